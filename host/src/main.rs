//! The `edgescore` binary. Parses the command line, runs the command, and
//! turns any error into one line on standard error and exit status 1.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use edgescore::csv_rows::CsvOptions;
use edgescore::score_csv::{ScoreOptions, score_csv};

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Score(args) => {
            let model = edgescore::model_file::load(&args.model, args.format)?;
            let options = ScoreOptions {
                csv: CsvOptions {
                    ignore_extra_columns: args.ignore_extra_columns,
                },
                raw: args.raw,
            };
            let rows = score_csv(&model, &args.input, args.output.as_deref(), options)?;
            if let Some(path) = &args.output {
                eprintln!(
                    "scored {rows} rows with {} ({}); wrote {}",
                    args.model.display(),
                    model.kind(),
                    path.display()
                );
            }
            Ok(())
        }
    }
}
