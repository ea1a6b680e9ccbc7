//! The `choria:transport:1` reply envelopes the simulated fleet sends.

use crate::args::Args;
use crate::common::json_string;
use crate::Result;
use base64::Engine;
use std::io::Write;

/// The reply envelope simulated node `node` sends: ~600 bytes, as a real
/// rpcutil reply through the choria security plugin is.
pub fn reply_envelope(node: u64) -> Vec<u8> {
    // What a security plugin would produce, base64 with MCollective's line breaks.
    let body = format!("{{\"statuscode\":0,\"statusmsg\":\"OK\",\"data\":{{\"pong\":{node}}},\"sender\":\"node{node}.example.net\",\"padding\":\"{}\"}}", "x".repeat(300));
    let encoded = base64_lines(body.as_bytes());
    format!(
        "{{\"protocol\":\"choria:transport:1\",\"data\":{},\"headers\":{{\"mc_sender\":\"node{node}.example.net\"}}}}",
        json_string(&encoded)
    )
    .into_bytes()
}

/// Base64 with a newline every 60 characters and at the end, as Ruby's
/// `Base64.encode64` writes it.
fn base64_lines(input: &[u8]) -> String {
    let flat = base64::engine::general_purpose::STANDARD.encode(input);
    let mut lines = String::with_capacity(flat.len() + flat.len() / 60 + 1);
    for line in flat.as_bytes().chunks(60) {
        lines.push_str(&String::from_utf8_lossy(line));
        lines.push('\n');
    }
    lines
}

/// `envelopes --count N`: writes the envelopes of nodes 0..N, one a line (they
/// hold no raw newline), so a benchmark can decode the very bytes `replies` sends.
pub fn envelopes(args: &Args) -> Result<()> {
    let count: u64 = args.number("count")?;
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    for node in 0..count {
        stdout.write_all(&reply_envelope(node))?;
        stdout.write_all(b"\n")?;
    }
    stdout.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_ruby_encode64() {
        // Base64.encode64("hello world") == "aGVsbG8gd29ybGQ=\n"
        assert_eq!(base64_lines(b"hello world"), "aGVsbG8gd29ybGQ=\n");
        assert_eq!(
            base64_lines(&[0u8; 46]).lines().next().map(str::len),
            Some(60)
        );
    }

    #[test]
    fn envelopes_are_one_line_and_about_600_bytes() {
        let envelope = reply_envelope(12345);
        assert!(!envelope.contains(&b'\n'));
        assert!((550..700).contains(&envelope.len()), "{}", envelope.len());
    }
}
