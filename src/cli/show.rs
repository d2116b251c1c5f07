//! `mailtape show`.

use std::io::{IsTerminal, Write};

use clap::Args;
use mailtape::Error;

#[derive(Args, Debug)]
pub(crate) struct ShowArgs {
    /// A tape file, a folder of `.tape` files, `builtin:NAME`, or `-` for stdin.
    #[arg(value_name = "TAPE|DIR|-")]
    pub(crate) source: String,
    /// Only the session with this number.
    #[arg(long, value_name = "N")]
    pub(crate) session: Option<u64>,
    /// One JSON document per tape: sessions, events, explanations.
    #[arg(long)]
    pub(crate) json: bool,
    /// Leave out the explanations.
    #[arg(long)]
    pub(crate) no_explain: bool,
}

pub(crate) fn run(args: ShowArgs) -> Result<(), Error> {
    let mut tapes: Vec<(String, mailtape::tape::Tape)> = Vec::new();
    let path = std::path::Path::new(&args.source);
    if args.source == "-" {
        let text = mailtape::tape::read::text(std::io::stdin().lock(), "-")?;
        tapes.push(("-".into(), mailtape::tape::Tape::parse(&text, "-")?));
    } else if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| Error::Io {
                action: format!("list the folder {}", path.display()),
                source: e,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "tape"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(Error::Usage(format!(
                "no .tape files in {}",
                path.display()
            )));
        }
        for f in files {
            tapes.push(mailtape::load_tape(&f.display().to_string())?);
        }
    } else {
        // A file or builtin:NAME, as replay takes them.
        tapes.push(mailtape::load_tape(&args.source)?);
    }
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let opts = mailtape::tools::show::ShowOptions {
        session: args.session,
        no_explain: args.no_explain,
        color: std::io::stdout().is_terminal() && !no_color && !args.json,
    };
    for (name, tape) in &tapes {
        if args.json {
            out!("{}", mailtape::tools::show::render_json(name, tape, &opts));
        } else {
            let _ = write!(
                std::io::stdout(),
                "{}",
                mailtape::tools::show::render(name, tape, &opts)
            );
        }
    }
    if let Some(n) = args.session
        && !tapes
            .iter()
            .any(|(_, t)| t.sessions.iter().any(|s| s.meta.id == n))
    {
        return Err(Error::Usage(format!("no session {n} in {}", args.source)));
    }
    Ok(())
}
