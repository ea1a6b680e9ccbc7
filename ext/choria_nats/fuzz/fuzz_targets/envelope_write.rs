//! The string escaping of `Envelope.generate_native`, its only byte-level
//! part: the rest walks Ruby objects and needs a Ruby VM. The escaped text must
//! be serde_json's, and read back as the same string.
#![no_main]

use choria_nats::json_escape::escape_into;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Lossy, so that every input is some text: Ruby hands over valid UTF-8 only.
    let text = String::from_utf8_lossy(data);
    // The escaper appends: what is already written must stay as it was.
    let mut out = b"{\"data\":".to_vec();
    escape_into(&mut out, &text);
    let escaped = out.strip_prefix(b"{\"data\":").expect("the prefix is kept");
    let expected = serde_json::to_string(&text).expect("serde_json writes any string");
    assert_eq!(escaped, expected.as_bytes());
    let read: String = serde_json::from_slice(escaped).expect("the escaped text is JSON");
    assert_eq!(read, text);
});
