//! NATS credentials files (`.creds`, as `nsc` and `nats` write them): a user
//! JWT, which the broker checks against the accounts it trusts, and the
//! user's nkey seed, which signs the nonce the broker sends. The file is read
//! again at every connect attempt, reconnects included, so a rotated file is
//! used without a restart. The seed is a secret: it is never logged, never
//! put in an error, and the file must be closed to other users.

use crate::errors::{Category, Failure};
use crate::utc::format_utc;
use data_encoding::BASE64URL_NOPAD;
use nkeys::{KeyPair, KeyPairType};
use std::fmt;

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A credentials file is a few kilobytes; anything much larger is not one.
const MAX_BYTES: u64 = 64 * 1024;

/// A user JWT and its key, read from `path`.
pub struct Credentials {
    path: PathBuf,
    jwt: String,
    key: KeyPair,
}

// Neither the seed nor the JWT is shown, whatever prints this.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({})", self.path.display())
    }
}

/// The claims of a user JWT that this side checks before the broker does.
#[derive(serde::Deserialize)]
struct Claims {
    sub: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
}

fn refused(path: &Path, what: impl fmt::Display) -> Failure {
    Failure::config(format!(
        "The NATS credentials file {} {what}",
        path.display()
    ))
}

/// The text between the `-----BEGIN …-----` and `------END …------` lines
/// of each block, in order, as nats tooling reads them: the first block is
/// the JWT, the second the seed.
fn blocks(text: &str) -> Vec<Vec<&str>> {
    let mut found = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in text.lines().map(str::trim) {
        let fence = line.len() >= 6 && line.starts_with("---") && line.ends_with("---");
        match (&mut current, fence) {
            (None, true) => current = Some(Vec::new()),
            (Some(_), true) => found.extend(current.take()),
            (Some(lines), false) if !line.is_empty() => lines.push(line),
            _ => {}
        }
    }
    found
}

fn only_line<'a>(block: Option<&Vec<&'a str>>) -> Option<&'a str> {
    match block.map(Vec::as_slice) {
        Some([line]) => Some(line),
        _ => None,
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn when(seconds: i64) -> String {
    format_utc(u64::try_from(seconds).unwrap_or(0))
}

impl Credentials {
    /// Reads and checks the file: closed to other users, of a bounded size,
    /// with a user JWT that is valid now and the seed of that same user.
    pub fn read(path: &Path) -> Result<Self, Failure> {
        let text = read_private(path)?;
        Self::parse(path, &text, unix_now())
    }

    fn parse(path: &Path, text: &str, now: i64) -> Result<Self, Failure> {
        let blocks = blocks(text);
        if blocks.is_empty() {
            return Err(refused(
                path,
                "holds no -----BEGIN NATS USER JWT----- block: it is not a credentials file; give the .creds file nsc or nats wrote for this user",
            ));
        }
        let jwt = only_line(blocks.first())
            .ok_or_else(|| refused(path, "has a user JWT block that is not one line of JWT"))?;
        let seed = only_line(blocks.get(1)).ok_or_else(|| {
            refused(
                path,
                "holds no -----BEGIN USER NKEY SEED----- block with one seed in it: give the whole .creds file, not the JWT alone",
            )
        })?;
        let claims = claims(path, jwt)?;
        // nkeys' own errors are not passed on: they might quote the seed.
        let key = KeyPair::from_seed(seed).map_err(|_| {
            refused(
                path,
                "has a seed that is not a valid nkey seed (damaged or cut short): ask for the file again",
            )
        })?;
        let kind = match key.key_pair_type() {
            KeyPairType::User => None,
            KeyPairType::Account => Some("an account"),
            KeyPairType::Operator => Some("an operator"),
            _ => Some("a non-user"),
        };
        if let Some(kind) = kind {
            return Err(refused(
                path,
                format!("holds {kind} seed, not a user seed: give the user's .creds file"),
            ));
        }
        let user = key.public_key();
        match claims.sub.as_deref() {
            Some(sub) if sub == user => {}
            Some(sub) => {
                return Err(refused(
                    path,
                    format!(
                        "holds the JWT of user {sub} with the seed of another user, {user}: the JWT and the seed must come from the same .creds file"
                    ),
                ))
            }
            None => return Err(refused(path, "has a user JWT without a subject (sub)")),
        }
        if let Some(exp) = claims.exp {
            if exp <= now {
                return Err(refused(
                    path,
                    format!(
                        "holds a user JWT that expired at {} (by this machine's clock): ask the account's operator for new credentials (nsc generate creds)",
                        when(exp)
                    ),
                ));
            }
        }
        if let Some(nbf) = claims.nbf {
            if nbf > now {
                return Err(refused(
                    path,
                    format!(
                        "holds a user JWT that is not valid before {}: check this machine's clock",
                        when(nbf)
                    ),
                ));
            }
        }
        Ok(Credentials {
            path: path.to_path_buf(),
            jwt: jwt.to_string(),
            key,
        })
    }

    /// The user JWT, for the broker's CONNECT.
    pub fn jwt(&self) -> &str {
        &self.jwt
    }

    /// The user's public key (`U…`): not a secret, it names the user.
    pub fn user(&self) -> String {
        self.key.public_key()
    }

    /// The broker's nonce signed with the user's key.
    pub fn sign(&self, nonce: &[u8]) -> Result<Vec<u8>, Failure> {
        self.key.sign(nonce).map_err(|_| {
            refused(
                &self.path,
                "has a key that could not sign the broker's nonce",
            )
        })
    }
}

/// The claims of `jwt` (header.claims.signature, base64url); the broker
/// verifies the signature, this only reads what it can explain early.
fn claims(path: &Path, jwt: &str) -> Result<Claims, Failure> {
    let bad = |why: &str| {
        refused(
            path,
            format!("has a user JWT that {why}: ask for the file again"),
        )
    };
    let mut parts = jwt.split('.');
    let (Some(_), Some(body), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("is not three dot-separated parts"));
    };
    let json = BASE64URL_NOPAD
        .decode(body.trim_end_matches('=').as_bytes())
        .map_err(|_| bad("is not base64url"))?;
    serde_json::from_slice(&json).map_err(|_| bad("does not hold JSON claims"))
}

/// The file's text, if it is a regular file that other users cannot read, and small enough to be a credentials file.
fn read_private(path: &Path) -> Result<String, Failure> {
    // Non-blocking, so that a FIFO at the path is refused below instead of
    // holding the connect until something writes to it.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            match e.kind() {
        std::io::ErrorKind::NotFound => refused(
            path,
            "does not exist: check plugin.nats.credentials (or MCOLLECTIVE_NATS_CREDENTIALS)",
        ),
        std::io::ErrorKind::PermissionDenied => refused(
            path,
            "cannot be read by this user: it must be readable by the user the connector runs as",
        ),
        _ => refused(path, format_args!("cannot be opened: {e}")),
    }
        })?;
    // The open file is checked, so a file swapped after the check is not read.
    let meta = file
        .metadata()
        .map_err(|e| refused(path, format_args!("cannot be examined: {e}")))?;
    if !meta.is_file() {
        return Err(refused(path, "is not a regular file"));
    }
    check_mode(path, &meta)?;
    if meta.len() > MAX_BYTES {
        return Err(refused(
            path,
            format!(
                "is {} bytes, more than a credentials file's {MAX_BYTES}: is it the right file?",
                meta.len()
            ),
        ));
    }
    let mut bytes = Vec::new();
    file.by_ref()
        .take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| refused(path, format_args!("cannot be read: {e}")))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(refused(
            path,
            "grew past the size of a credentials file while it was read",
        ));
    }
    String::from_utf8(bytes).map_err(|_| refused(path, "is not text: it is not a credentials file"))
}

#[cfg(unix)]
fn check_mode(path: &Path, meta: &std::fs::Metadata) -> Result<(), Failure> {
    use std::os::unix::fs::MetadataExt;
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(refused(
            path,
            format!(
                "is open to other users (mode {mode:04o}): it holds a secret seed; run `chmod 600 {}` (and, if someone may have copied it, ask for new credentials)",
                path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), Failure> {
    Ok(())
}

/// Our own message inside async-nats' wrapping of a failed auth callback
/// (`failed signing nonce: AuthError(…)`), else the text as it is.
pub fn unwrap_auth_error(text: &str) -> &str {
    let inner = text.strip_prefix("failed signing nonce: ").unwrap_or(text);
    inner
        .strip_prefix("AuthError(")
        .and_then(|message| message.strip_suffix(')'))
        .unwrap_or(text)
}

/// An authentication failure reported by the broker, explained for a
/// connection that used this credentials file.
pub fn explain_refusal(server: &str, path: &Path) -> Failure {
    Failure::new(
        Category::Authentication,
        format!(
            "The NATS broker {server} refused the credentials in {} (authorization violation): check that the user's account is one the broker trusts (its operator and resolver preload it), that the user was not revoked, and that the broker's clock agrees the JWT is valid",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_nats::AuthError;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn refuses_a_fifo_without_waiting_for_a_writer() {
        let dir = std::env::temp_dir().join(format!("choria-nats-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        let fifo = dir.join("user.creds");
        let made = std::process::Command::new("mkfifo")
            .args(["-m", "600"])
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        let (sender, receiver) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let _ = sender.send(read_private(&path).map(|_| ()).map_err(|f| f.message));
        });
        let outcome = receiver
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("the read returns without a writer");
        std::fs::remove_dir_all(&dir).expect("the temp dir is removed");
        let message = outcome.expect_err("a FIFO is refused");
        assert!(message.ends_with("is not a regular file"), "{message}");
    }

    fn jwt(sub: &str, exp: Option<i64>) -> String {
        let account = KeyPair::new_account();
        let header = BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
        let mut claims = serde_json::json!({
            "iss": account.public_key(), "sub": sub, "iat": NOW - 10,
            "nats": {"type": "user", "version": 2}
        });
        if let Some(exp) = exp {
            claims["exp"] = exp.into();
        }
        let body = BASE64URL_NOPAD.encode(claims.to_string().as_bytes());
        let signed = format!("{header}.{body}");
        let signature = account.sign(signed.as_bytes()).unwrap();
        format!("{signed}.{}", BASE64URL_NOPAD.encode(&signature))
    }

    fn creds(jwt: &str, seed: &str) -> String {
        format!(
            "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\n\
             -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
        )
    }

    fn parse(text: &str) -> Result<Credentials, String> {
        Credentials::parse(Path::new("/etc/nats/u.creds"), text, NOW).map_err(|f| f.message)
    }

    #[test]
    fn reads_the_jwt_and_the_seed_of_one_user() {
        let user = KeyPair::new_user();
        let token = jwt(&user.public_key(), Some(NOW + 60));
        let seed = user.seed().unwrap();
        let read = parse(&creds(&token, &seed)).unwrap();
        assert_eq!(read.jwt(), token);
        assert_eq!(read.user(), user.public_key());
        let signature = read.sign(b"nonce").unwrap();
        assert!(user.verify(b"nonce", &signature).is_ok());
        let shown = format!("{read:?}");
        assert!(!shown.contains(&seed) && !shown.contains(&token), "{shown}");
        // Windows line ends, as a file copied through another system has.
        assert!(parse(&creds(&token, &seed).replace('\n', "\r\n")).is_ok());
    }

    #[test]
    fn refuses_a_malformed_file_in_one_line_without_the_seed() {
        let user = KeyPair::new_user();
        let seed = user.seed().unwrap();
        let token = jwt(&user.public_key(), None);
        let other = KeyPair::new_user();
        let cases = [
            (
                "garbage\n".to_string(),
                "holds no -----BEGIN NATS USER JWT----- block",
            ),
            (
                format!("-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n"),
                "holds no -----BEGIN USER NKEY SEED----- block",
            ),
            (
                creds("not-a-jwt", &seed),
                "is not three dot-separated parts",
            ),
            (creds("a.!!!.c", &seed), "is not base64url"),
            (creds("a.bm90IGpzb24.c", &seed), "does not hold JSON claims"),
            (
                creds(&token, &format!("{}X", &seed[..seed.len() - 1])),
                "not a valid nkey seed",
            ),
            (
                creds(&token, &KeyPair::new_account().seed().unwrap()),
                "holds an account seed, not a user seed",
            ),
            (
                creds(&jwt(&other.public_key(), None), &seed),
                "with the seed of another user",
            ),
            (
                creds(&jwt(&user.public_key(), Some(NOW - 1)), &seed),
                "expired at",
            ),
        ];
        for (text, expected) in cases {
            let message = parse(&text).err().unwrap_or_default();
            assert!(
                message.starts_with("The NATS credentials file /etc/nats/u.creds "),
                "{message}"
            );
            assert!(message.contains(expected), "{expected}: {message}");
            assert!(
                !message.contains('\n') && !message.contains(&seed[2..]),
                "{message}"
            );
        }
    }

    #[test]
    fn takes_our_message_out_of_async_nats_wrapping() {
        let message =
            "The NATS credentials file /x is open to other users (mode 0644): run `chmod 600 /x`";
        let wrapped = format!("failed signing nonce: {}", AuthError::new(message));
        assert_eq!(unwrap_auth_error(&wrapped), message);
        assert_eq!(
            unwrap_auth_error(&AuthError::new(message).to_string()),
            message
        );
        assert_eq!(
            unwrap_auth_error("authorization violation"),
            "authorization violation"
        );
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_file_others_can_read_or_one_too_large() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("choria-nats-creds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("u.creds");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let message = read_private(&path)
            .err()
            .map(|f| f.message)
            .unwrap_or_default();
        assert!(
            message.contains("is open to other users (mode 0640)"),
            "{message}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_private(&path).ok().as_deref(), Some("x"));
        std::fs::write(&path, vec![b'-'; MAX_BYTES as usize + 1]).unwrap();
        let message = read_private(&path)
            .err()
            .map(|f| f.message)
            .unwrap_or_default();
        assert!(
            message.contains("more than a credentials file's"),
            "{message}"
        );
        let missing = read_private(&dir.join("none")).err().map(|f| f.message);
        assert!(missing.unwrap_or_default().contains("does not exist"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
