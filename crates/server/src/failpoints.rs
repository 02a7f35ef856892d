//! Failpoints: named places where a test makes this process fail on purpose, through the `fail`
//! crate. They are compiled in only with the `failpoints` feature (the end-to-end tests' binary
//! has it, release builds do not) and set at start-up from `FAILPOINTS`, as in
//! `FAILPOINTS="fanout-before-publish=return"` (`name=actions`, separated by `;`, actions as the
//! `fail` crate reads them).
//!
//! - `fanout-before-publish`: with `return`, the process kills itself after a message was
//!   committed and before it was published to the other nodes.

/// Sets the failpoints named in `FAILPOINTS`; without the `failpoints` feature, refuses a
/// non-empty `FAILPOINTS` rather than ignore it.
pub fn configure_from_env() -> Result<(), String> {
    let Ok(spec) = std::env::var("FAILPOINTS") else { return Ok(()) };
    configure(&spec)
}

#[cfg(feature = "failpoints")]
fn configure(spec: &str) -> Result<(), String> {
    for point in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, actions) =
            point.split_once('=').ok_or_else(|| format!("FAILPOINTS: `{point}` is not name=actions"))?;
        fail::cfg(name.trim(), actions.trim()).map_err(|e| format!("FAILPOINTS: {name}: {e}"))?;
    }
    Ok(())
}

#[cfg(not(feature = "failpoints"))]
fn configure(spec: &str) -> Result<(), String> {
    if spec.trim().is_empty() {
        Ok(())
    } else {
        Err("FAILPOINTS is set, but this confab was built without failpoints".into())
    }
}

/// Ends the process at once, running nothing more: no destructor, no flush, no goodbye to the
/// cluster. It sends itself `SIGKILL`, as `kill -9` would (an abort could leave a core file).
pub fn die() {
    // SAFETY: `kill` and `getpid` take plain integers and touch no memory of this process.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    // SIGKILL cannot be caught; should it somehow not have ended the process, abort.
    std::process::abort()
}
