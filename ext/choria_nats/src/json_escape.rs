//! A string as a quoted JSON string, escaped exactly as Ruby's `JSON.generate`
//! escapes it (`"`, `\`, and control characters: `\b \f \n \r \t`, else
//! `\u00xx`) and nothing else, for the envelope writer in
//! `ruby_api/envelope.rs`. It is faster than serde_json's escaper on
//! envelopes, whose base64 payloads have a line break every 61 bytes (see
//! docs/performance.md); the tests hold it to serde_json's output.

/// Whether JSON (and Ruby's generator) escapes `b`. Without short-circuits,
/// so that the compiler can test many bytes at once.
#[inline]
fn needs_escape(b: u8) -> bool {
    (b < 0x20) | (b == b'"') | (b == b'\\')
}

/// Bytes tested at once for anything to escape: base64 with line breaks has
/// one every 61 bytes, so most chunks are copied whole.
const CHUNK: usize = 16;

/// `text` as a quoted JSON string, escaped as Ruby's generator escapes it.
pub fn escape_into(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut clean_from = 0;
    for (chunk_index, chunk) in bytes.chunks(CHUNK).enumerate() {
        if !chunk
            .iter()
            .fold(false, |dirty, &b| dirty | needs_escape(b))
        {
            continue;
        }
        for (offset, &b) in chunk.iter().enumerate() {
            if !needs_escape(b) {
                continue;
            }
            let at = chunk_index * CHUNK + offset;
            out.extend_from_slice(&bytes[clean_from..at]);
            clean_from = at + 1;
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                _ => out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ]),
            }
        }
    }
    out.extend_from_slice(&bytes[clean_from..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::escape_into;

    fn escaped(text: &str) -> String {
        let mut out = Vec::new();
        escape_into(&mut out, text);
        String::from_utf8(out).expect("escaping keeps UTF-8")
    }

    #[test]
    fn escapes_every_character_as_serde_json_does() {
        for code in (0..0x80u32).chain([0xe9, 0x2028, 0x1f600]) {
            let text = char::from_u32(code).expect("a char").to_string();
            assert_eq!(
                escaped(&text),
                serde_json::to_string(&text).expect("serde_json"),
                "{code:#x}"
            );
        }
    }

    #[test]
    fn escapes_long_mixed_text_across_chunk_boundaries_as_serde_json_does() {
        let pieces = [
            "abcdefghijklmnopq",
            "\n",
            "\"",
            "\\",
            "\u{1}",
            "\u{1f}",
            "é",
            "x",
        ];
        let mut text = String::new();
        let mut state = 7u32;
        for _ in 0..2000 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let piece = pieces[(state >> 16) as usize % pieces.len()];
            let cut = (state >> 8) as usize % piece.len().max(1);
            text.push_str(if piece.is_char_boundary(cut) {
                &piece[cut..]
            } else {
                piece
            });
            assert_eq!(
                escaped(&text),
                serde_json::to_string(&text).expect("serde_json")
            );
        }
        let base64_lines = "QUJD".repeat(15) + "\n";
        let body = base64_lines.repeat(23);
        assert_eq!(
            escaped(&body),
            serde_json::to_string(&body).expect("serde_json")
        );
    }
}
