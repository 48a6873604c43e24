//! `ava doctor`: prints the checks of [`ava_doctor`] as they are made, each `✓`, `!`
//! (worth a look) or `✗` (to fix, with what to do under it), and exits
//! [`exit::DOCTOR`] when anything is to fix.

use std::path::PathBuf;

use ava_doctor::{Check, Status};
use clap::Args;

use crate::{config, exit, TargetArgs};

#[derive(Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Also compare the row counts of the five tables with this SQLite file (opened
    /// read-only; its bytes never change)
    #[arg(long, value_name = "PATH")]
    sqlite: Option<PathBuf>,
}

/// Prints one check, and under it what to do (for `!` and `✗`).
fn print(check: &Check) {
    let sign = match check.status {
        Status::Fine => "✓",
        Status::Warn => "!",
        Status::Fail => "✗",
    };
    println!("{sign} {}", check.detail);
    if let Some(fix) = &check.fix {
        println!("    → {fix}");
    }
}

pub async fn doctor(args: DoctorArgs) -> anyhow::Result<u8> {
    let url = config::database_url(&args.target)?;
    let push = if args.target.database_url.is_some() {
        "ava db push --database-url URL"
    } else {
        "ava db push"
    };
    println!("ava doctor: {}", ava_sink::redact(&url));
    let opts = ava_doctor::Options {
        url,
        push: push.into(),
        sqlite: args.sqlite,
    };
    let report = ava_doctor::doctor(&opts, print).await;
    println!("{} to fix, {} to look at", report.failed(), report.warned());
    Ok(if report.passed() {
        exit::OK
    } else {
        exit::DOCTOR
    })
}
