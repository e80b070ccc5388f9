//! `edgescore-web-package <WASM> <OUT_DIR> <NAME>`:
//! [`edgescore_web_package::bindgen`] from the command line, for
//! `guest/web/build.sh` and the server's build script.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [wasm, out_dir, name] = args.as_slice() else {
        eprintln!("usage: edgescore-web-package <WASM> <OUT_DIR> <NAME>");
        return ExitCode::from(2);
    };
    match edgescore_web_package::bindgen(&PathBuf::from(wasm), &PathBuf::from(out_dir), name) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
