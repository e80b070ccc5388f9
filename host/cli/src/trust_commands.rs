//! `edgescore keygen`, `sign`, `verify` and `audit verify`: keys, signed
//! artifacts and the audit log; the work is in `edgescore_trust`.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::SystemTime;

use edgescore_trust::{SecretKey, SignOptions, TrustStore, sign_artifact, verify_artifact};

#[derive(Debug, clap::Args)]
pub(crate) struct KeygenArgs {
    /// The key's id, as signatures and trust files name it: 1 to 128
    /// letters, digits, '.', '_', '-' or '@' (e.g. release-2026).
    #[arg(long, value_name = "ID")]
    pub(crate) id: String,

    /// Where to write: <PREFIX>.key (the secret key, mode 0600) and
    /// <PREFIX>.pub (the public key, a trust file). Neither may exist.
    #[arg(long, value_name = "PREFIX")]
    pub(crate) out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SignArgs {
    /// The secret key (<PREFIX>.key from `edgescore keygen`).
    #[arg(long, value_name = "KEYFILE")]
    pub(crate) key: PathBuf,

    /// Put the signature inside the .wasm (a custom section named
    /// `signature`) instead of a detached file: for a .wasm, or a folder
    /// whose only file is one.
    #[arg(long)]
    pub(crate) embed: bool,

    /// What to sign: a version folder (signed in <DIR>/model.sig, covering
    /// every file in it) or a file (signed in <FILE>.sig).
    #[arg(value_name = "ARTIFACT", required = true)]
    pub(crate) artifacts: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// A trust file: [[key]] tables (id, public_key, and optionally
    /// not_before, not_after, revoked, revoked_reason); a .pub written by
    /// `edgescore keygen` is one. Repeat to merge several.
    #[arg(long = "trust", value_name = "TRUSTFILE", required = true)]
    pub(crate) trust: Vec<PathBuf>,

    /// The folders or files to verify.
    #[arg(value_name = "ARTIFACT", required = true)]
    pub(crate) artifacts: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    pub(crate) command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum AuditCommand {
    /// Check an audit log's hash chain from its first line to its last.
    ///
    /// Every line must be an entry, line n must have seq n, and each
    /// line's prev must be the SHA-256 of the line before (64 zeros on the
    /// first): an edited, removed or reordered line is reported with its
    /// line number, and the exit status is 1. The head hash printed is the
    /// SHA-256 of the last line: record it, and a later check whose log no
    /// longer holds that line shows that lines were cut from the end
    /// (which the chain alone cannot show).
    #[command(verbatim_doc_comment)]
    Verify {
        /// The audit log (JSON lines, as `serve` writes with audit_log).
        #[arg(value_name = "LOG")]
        log: PathBuf,
    },
}

pub(crate) fn keygen(args: KeygenArgs) -> anyhow::Result<()> {
    let with = |extension: &str| {
        let mut name = args.out.as_os_str().to_owned();
        name.push(extension);
        PathBuf::from(name)
    };
    let (secret_path, public_path) = (with(".key"), with(".pub"));
    if public_path.exists() {
        anyhow::bail!(
            "{} already exists: key files are never overwritten; choose another --out",
            public_path.display()
        );
    }
    let key = SecretKey::generate(&args.id)?;
    key.write(&secret_path)?;
    key.public_key().write(&public_path)?;
    eprintln!(
        "wrote the secret key {} (mode 0600: keep it secret) and the public key {}",
        secret_path.display(),
        public_path.display()
    );
    eprintln!(
        "{} is a trust file: give it to `edgescore verify --trust` or `serve --trust`, or paste its [[key]] table into one",
        public_path.display()
    );
    Ok(())
}

pub(crate) fn sign(args: SignArgs) -> anyhow::Result<()> {
    let key = SecretKey::read(&args.key)?;
    let options = SignOptions { embed: args.embed };
    let mut stdout = std::io::stdout().lock();
    for artifact in &args.artifacts {
        let outcome = sign_artifact(artifact, &key, &options)?;
        if outcome.replaced_stale {
            eprintln!(
                "note: {}'s files changed since it was last signed: its old signatures were void and are replaced by this one alone",
                artifact.display()
            );
        }
        writeln!(
            stdout,
            "signed {} with {}: {} (signers: {})",
            artifact.display(),
            key.key_id(),
            outcome.signature_file.display(),
            outcome.signers.join(", ")
        )?;
    }
    Ok(())
}

pub(crate) fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let trust = TrustStore::load(&args.trust)?;
    let now = SystemTime::now();
    let mut stdout = std::io::stdout().lock();
    let mut refused = 0usize;
    for artifact in &args.artifacts {
        match verify_artifact(artifact, &trust, now) {
            Ok(verified) => writeln!(
                stdout,
                "verified {}: signed by {}; manifest sha256 {}",
                artifact.display(),
                verified.signers.join(", "),
                verified.manifest_sha256
            )?,
            Err(refusal) => {
                refused += 1;
                eprintln!("refused ({}): {refusal}", refusal.kind().as_str());
            }
        }
    }
    if refused > 0 {
        anyhow::bail!("{refused} of {} artifacts refused", args.artifacts.len());
    }
    Ok(())
}

pub(crate) fn audit(args: AuditArgs) -> anyhow::Result<()> {
    match args.command {
        AuditCommand::Verify { log } => {
            let summary = edgescore_trust::verify_audit_log(&log)
                .map_err(|violation| anyhow::anyhow!("{}: {violation}", log.display()))?;
            if summary.torn_tail_bytes > 0 {
                eprintln!(
                    "note: the last {} bytes are a line torn by a crash (no newline), never acknowledged; the log cuts it when next opened",
                    summary.torn_tail_bytes
                );
            }
            writeln!(
                std::io::stdout().lock(),
                "{}: {} entries, the chain is intact; head sha256 {}",
                log.display(),
                summary.entries,
                summary.head_sha256
            )?;
            Ok(())
        }
    }
}
