//! The script's output, stdout and stderr through one pipe (so they keep the order they were
//! written in), copied live to our stderr and into the build log.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Stdio;
use std::thread::JoinHandle;

/// A log file and the pipe that feeds it.
pub struct Tee {
    log: File,
    read: OwnedFd,
    write: Option<OwnedFd>,
}

/// The copying thread; [`Copier::finish`] waits for the end of the output.
pub struct Copier(JoinHandle<io::Result<()>>);

impl Tee {
    /// Creates (truncates) the log at `path` and a pipe.
    pub fn create(path: &Path) -> io::Result<Tee> {
        let log = File::create(path)?;
        let (read, write) = nix::unistd::pipe().map_err(io::Error::from)?;
        Ok(Tee {
            log,
            read,
            write: Some(write),
        })
    }

    /// Stdout and stderr for the child: both the pipe's write end. Our own copy is given away,
    /// so the reader sees EOF when the child's side closes.
    pub fn child_stdio(&self) -> io::Result<(Stdio, Stdio)> {
        let write = self
            .write
            .as_ref()
            .ok_or_else(|| io::Error::other("pipe already handed out"))?;
        Ok((
            Stdio::from(write.try_clone()?),
            Stdio::from(write.try_clone()?),
        ))
    }

    /// Starts copying: pipe -> stderr + log.
    pub fn start(mut self) -> Copier {
        self.write = None;
        let mut read = File::from(self.read);
        let mut log = self.log;
        Copier(std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let mut stderr = io::stderr();
            loop {
                let n = match read.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                // The terminal going away must not stop the log.
                let _ = stderr.write_all(&buf[..n]);
                log.write_all(&buf[..n])?;
            }
            log.sync_all()
        }))
    }
}

impl Copier {
    /// Waits until the child's output ended and everything is in the log.
    pub fn finish(self) -> io::Result<()> {
        self.0
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("log copier panicked")))
    }
}
