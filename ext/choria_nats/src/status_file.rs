//! The status file: a snapshot of the link as JSON, with the key names of
//! go-choria's status file where it has one for the same fact, put in place
//! whole so that a reader never sees half of it.

use crate::monitor::Snapshot;
use crate::utc::{format_rfc3339, whole_days};
use serde_json::{json, Value};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Readable by every monitoring agent; never writable by them.
const MODE: u32 = 0o644;
/// Random temporary names tried before giving up: a name is taken only when
/// someone creates files to match.
const ATTEMPTS: usize = 5;

/// The JSON document of a snapshot; `interval` is the time between writes,
/// written down so that a checker can tell a stale file without knowing the
/// daemon's settings.
pub fn render(snapshot: &Snapshot, interval: Duration) -> Value {
    let time = |t: Option<i64>| t.map(format_rfc3339);
    let stats = &snapshot.stats;
    json!({
        "identity": snapshot.identity,
        "connected": snapshot.connected,
        // go-choria writes an empty server when not connected.
        "connected_server": snapshot.server.as_deref().filter(|_| snapshot.connected).unwrap_or(""),
        "server_source": snapshot.source.as_deref().filter(|_| snapshot.connected),
        "connected_since": time(snapshot.connected_since.filter(|_| snapshot.connected)),
        // Unix seconds, 0 for never, as go-choria writes it.
        "last_message": snapshot.last_received.unwrap_or(0),
        "last_message_sent": snapshot.last_sent.unwrap_or(0),
        "uptime": (snapshot.now - snapshot.started).max(0),
        "stats": {
            "in_msgs": stats.in_msgs,
            "out_msgs": stats.out_msgs,
            "in_bytes": stats.in_bytes,
            "out_bytes": stats.out_bytes,
            "reconnects": stats.reconnects,
            "dropped": stats.dropped,
            "skipped": snapshot.skipped,
            "queued": stats.queued,
            "queued_bytes": stats.queued_bytes,
        },
        "recent": {
            "seconds": snapshot.recent.seconds,
            "reconnects": snapshot.recent.reconnects,
            "dropped": snapshot.recent.dropped,
        },
        "certificate_expires": time(snapshot.certificate_expires),
        "certificate_days_left": snapshot.certificate_expires.map(|t| whole_days(snapshot.now, t)),
        "version": env!("CARGO_PKG_VERSION"),
        "nats_client": crate::NATS_CLIENT,
        "updated": format_rfc3339(snapshot.now),
        "update_interval": interval.as_secs_f64(),
    })
}

/// Replaces `path` with `content`, mode 0644, in one rename. The temporary
/// file beside it has a random name, is created exclusively and never
/// through a link, and its mode is set on the open file: a directory others
/// can write to cannot redirect the write or the mode to another file.
pub fn replace(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let (temporary, mut file) = create_temporary(path)?;
    let written = (|| {
        file.set_permissions(std::fs::Permissions::from_mode(MODE))?;
        file.write_all(content)?;
        file.sync_data()?;
        drop(file);
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

fn create_temporary(path: &Path) -> std::io::Result<(PathBuf, File)> {
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file")
    })?;
    for _ in 0..ATTEMPTS {
        let mut temporary = name.to_os_string();
        temporary.push(format!(".choria-nats-{:016x}.tmp", rand::random::<u64>()));
        let temporary = path.with_file_name(temporary);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(MODE)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&temporary)
        {
            Ok(file) => return Ok((temporary, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("{ATTEMPTS} temporary names beside it in a row were already taken, as if someone were creating them on purpose: check who can write to its directory"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Stats;
    use crate::monitor::Recent;

    fn dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("choria-nats-status-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn snapshot(connected: bool) -> Snapshot {
        Snapshot {
            identity: "node1.example.net".into(),
            connected,
            server: Some("nats1:4222".into()),
            broker: Some("nats1:4222".into()),
            source: Some("config".into()),
            connected_since: Some(1_795_040_000),
            last_received: Some(1_795_040_860),
            last_sent: None,
            started: 1_795_039_870,
            now: 1_795_040_870,
            stats: Stats {
                in_msgs: 3,
                reconnects: 1,
                ..Stats::default()
            },
            skipped: 2,
            attempts: 2,
            failures: [1, 0, 0],
            pool_size: 1,
            recent: Recent {
                seconds: 900,
                reconnects: 1,
                dropped: 0,
            },
            certificate_expires: Some(1_795_040_870 + 20 * 86_400 + 5),
        }
    }

    #[test]
    fn renders_go_choria_keys_and_ours() {
        let doc = render(&snapshot(true), Duration::from_secs(30));
        assert_eq!(doc["identity"], "node1.example.net");
        assert_eq!(doc["connected"], true);
        assert_eq!(doc["connected_server"], "nats1:4222");
        assert_eq!(doc["server_source"], "config");
        assert_eq!(doc["connected_since"], "2026-11-18T22:13:20Z");
        assert_eq!(doc["last_message"], 1_795_040_860);
        assert_eq!(doc["last_message_sent"], 0);
        assert_eq!(doc["uptime"], 1000);
        assert_eq!(doc["stats"]["in_msgs"], 3);
        assert_eq!(doc["stats"]["skipped"], 2);
        assert_eq!(doc["recent"]["reconnects"], 1);
        assert_eq!(doc["certificate_expires"], "2026-12-08T22:27:55Z");
        assert_eq!(doc["certificate_days_left"], 20);
        assert_eq!(doc["updated"], "2026-11-18T22:27:50Z");
        assert_eq!(doc["update_interval"], 30.0);
    }

    #[test]
    fn a_link_that_is_down_has_no_server() {
        let doc = render(&snapshot(false), Duration::from_secs(30));
        assert_eq!(doc["connected"], false);
        assert_eq!(doc["connected_server"], "");
        assert_eq!(doc["connected_since"], Value::Null);
    }

    #[test]
    fn replaces_the_file_whole_with_mode_0644_and_leaves_no_temporary() {
        let dir = dir("replace");
        let path = dir.join("status.json");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        replace(&path, b"{}\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_link_at_the_name_is_replaced_not_followed() {
        let dir = dir("link");
        let target = dir.join("target");
        std::fs::write(&target, "keep").unwrap();
        let path = dir.join("status.json");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        replace(&path, b"{}").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert!(!std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_error_and_leaves_nothing() {
        let dir = dir("missing");
        let path = dir.join("no/such/status.json");
        assert!(replace(&path, b"{}").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
