//! DNS SRV lookups for the broker list: which names to ask (`names`), asking
//! (`lookup`, which merges the records of every name) and the order the records are tried in (`order`).

mod lookup;
mod names;
mod order;

pub use lookup::{resolve, srv_records, Answer, MAX_RECORDS};
pub use names::{parse_names, parse_nameserver};
pub use order::{rfc2782_order, SrvRecord};
