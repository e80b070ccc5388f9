//! `edgescore-web-package <WASM> <OUT_DIR>`: [`edgescore_web_package::bindgen`]
//! from the command line, for `guest/web/build.sh`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [wasm, out_dir] = args.as_slice() else {
        eprintln!("usage: edgescore-web-package <WASM> <OUT_DIR>");
        return ExitCode::from(2);
    };
    match edgescore_web_package::bindgen(wasm, out_dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
