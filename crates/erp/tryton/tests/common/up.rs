//! Bringing up the live Tryton server when the environment names none: the tests run
//! `scripts/tryton-up.sh` themselves, so `cargo test --workspace --all-features` works on a fresh
//! machine.
//!
//! Once per test process (a `OnceLock`: the threads of one binary wait for the first), and once
//! per `cargo test` run across binaries: the script serialises its callers with a lock of its
//! own, and `MARKETSYNC_TRYTON_RUN` (the parent `cargo` process's pid and start time) lets the
//! callers after the first of a run skip its setup checks and reuse the running server.
//! Processes running live tests also take turns on the server: see [`exclusive_server_use`].

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// Takes, for the rest of this process, the lock that the live tests of every other process
/// take too (another test binary under a parallel runner, another checkout's `cargo test`):
/// they share one server database, and some assert effects only one writer can see (account
/// balances, document counts; Tryton also answers 503 when concurrent posts collide), so two
/// such processes must not run at once. `cargo test` runs its binaries one after the other
/// anyway, so the README's command never waits here.
///
/// The lock is an `flock` held by a child process reading this process's pipe: when this process
/// ends, however it ends, the pipe closes, the child exits and the lock is released. Without
/// `flock(1)` (it is in util-linux) the tests run unlocked, and say so.
pub fn exclusive_server_use() {
    static HELD: OnceLock<Option<Mutex<Child>>> = OnceLock::new();
    HELD.get_or_init(|| match hold_lock() {
        Ok(child) => child.map(Mutex::new),
        Err(why) => {
            let _ = writeln!(
                std::io::stderr(),
                "[tryton tests] running without the cross-process lock: {why}"
            );
            None
        }
    });
}

fn hold_lock() -> Result<Option<Child>, String> {
    let path = std::env::temp_dir().join("marketsync-tryton-tests.lock");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(
            r#"command -v flock >/dev/null 2>&1 || { echo no-flock; exit 0; }
exec 9>>"$1"
if ! flock -n 9; then
  echo "[tryton tests] waiting for the live Tryton tests of another process (lock $1)" >&2
  flock 9 || exit 1
fi
echo locked
exec cat >/dev/null"#,
        )
        .arg("sh")
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line)
            .map_err(|e| format!("cannot read from the lock holder: {e}"))?;
    }
    match line.trim() {
        "locked" => Ok(Some(child)),
        "no-flock" => Err("flock(1) is not installed".to_owned()),
        other => Err(format!(
            "the lock holder answered {other:?} for {}",
            path.display()
        )),
    }
}

/// The script, from the workspace root of the checkout these tests were built from.
pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../scripts/tryton-up.sh")
}

/// The `MARKETSYNC_TRYTON_*` variables (without the prefix) the script exported, or why it could
/// not bring the server up. Runs the script on the first call in this process only.
pub fn started_server() -> &'static Result<BTreeMap<String, String>, String> {
    static UP: OnceLock<Result<BTreeMap<String, String>, String>> = OnceLock::new();
    UP.get_or_init(run_script)
}

fn run_script() -> Result<BTreeMap<String, String>, String> {
    let script = script();
    // Straight to the process's stderr, not `eprintln!` (which the test harness captures): a
    // cold start should say what it is doing while it does it.
    let _ = writeln!(
        std::io::stderr(),
        "MARKETSYNC_TRYTON_URL is not set: bringing Tryton up through {} (a cold start \
         installs it from PyPI and takes a few minutes; MARKETSYNC_SKIP_TRYTON=1 skips the live \
         tests)",
        script.display()
    );
    let mut command = Command::new("bash");
    command
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // The script's progress lines too.
        .stderr(Stdio::inherit());
    if let Some(id) = run_id() {
        command.env("MARKETSYNC_TRYTON_RUN", id);
    }
    let output = command
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}); its messages are above",
            script.display(),
            output.status
        ));
    }
    parse_exports(&String::from_utf8_lossy(&output.stdout))
}

/// Identifies this `cargo test` run: the parent process (cargo, which runs the test binaries
/// one after the other, or nextest) by pid and start time, so a recycled pid is a new run.
/// `None` where `/proc` is missing: then every test binary has the script check everything.
fn run_id() -> Option<String> {
    let parent = std::os::unix::process::parent_id();
    let stat = std::fs::read_to_string(format!("/proc/{parent}/stat")).ok()?;
    // Fields after the command name (which may itself hold spaces and parentheses):
    // state, ppid, …; the start time is field 22 of the line, the 20th after the name.
    let (_, after_name) = stat.rsplit_once(')')?;
    let start = after_name.split_whitespace().nth(19)?;
    Some(format!("{parent}-{start}"))
}

/// Reads the `export MARKETSYNC_TRYTON_KEY=value` lines the script prints (values may be
/// quoted), keyed without the prefix. The URL must be among them.
pub fn parse_exports(stdout: &str) -> Result<BTreeMap<String, String>, String> {
    let map: BTreeMap<String, String> = stdout
        .lines()
        .filter_map(|line| line.trim().strip_prefix("export MARKETSYNC_TRYTON_"))
        .filter_map(|rest| rest.split_once('='))
        .map(|(key, value)| {
            let value = value.trim();
            let unquoted = [('"', '"'), ('\'', '\'')]
                .into_iter()
                .find_map(|(open, close)| {
                    value.strip_prefix(open).and_then(|v| v.strip_suffix(close))
                })
                .unwrap_or(value);
            (key.to_owned(), unquoted.to_owned())
        })
        .collect();
    if map.contains_key("URL") {
        Ok(map)
    } else {
        Err(format!(
            "{} succeeded but printed no `export MARKETSYNC_TRYTON_URL=…` line",
            script().display()
        ))
    }
}
