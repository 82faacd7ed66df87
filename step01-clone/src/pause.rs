//! `--pause`: stop before exec so a second terminal can look at the container.

use std::io::{BufRead, IsTerminal, Write};

use nix::unistd::Pid;

use crate::error::{Error, Result};

/// Refuse `--pause` early when there is no terminal to press Enter on
/// (a pipe or /dev/null would make it hang forever or never stop).
pub fn check_terminal() -> Result<()> {
    if std::io::stdin().is_terminal() {
        Ok(())
    } else {
        Err(Error::Usage(
            "--pause waits for Enter, but stdin is not a terminal: run it from a terminal, or drop --pause".into(),
        ))
    }
}

/// The commands an instructor pastes into a second terminal. Steps pass
/// `extra` lines for what they add (step02: look at the PID namespace).
pub fn hints(pid: Pid, extra: &[String]) -> Vec<String> {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "isolab".into());
    let mut lines = vec![
        format!("ls -l /proc/{pid}/ns"),
        format!("grep -E 'NSpid|Cap|NoNewPrivs|Seccomp' /proc/{pid}/status"),
        format!("nsenter -t {pid} -u hostname"),
    ];
    lines.extend(extra.iter().cloned());
    lines.push(format!("sudo {exe} inspect {pid}"));
    lines
}

/// Print where the container is and wait for Enter (EOF also continues).
pub fn pause(pid: Pid, extra: &[String]) -> Result<()> {
    let mut err = std::io::stderr().lock();
    let mut text = format!(
        "\npaused before exec: the container's first process is host PID {pid}\n\
         in a second terminal, try:\n"
    );
    for line in hints(pid, extra) {
        text.push_str(&format!("    {line}\n"));
    }
    text.push_str("press Enter to continue ");
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::io("reading Enter from stdin", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_pid() {
        let h = hints(Pid::from_raw(4711), &["extra 4711".into()]);
        assert!(h.len() >= 4 && h.len() <= 6, "{h:?}");
        assert!(h.iter().all(|l| l.contains("4711")), "{h:?}");
        assert!(
            h.iter()
                .any(|l| l.starts_with("nsenter -t 4711 -u hostname"))
        );
    }
}
