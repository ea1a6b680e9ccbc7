//! `ChoriaNats::Connection`: one verified-TLS NATS connection, usable from
//! several Ruby threads, a thin wrapper over the core `Connection`. Calls that
//! must wait (connect, receive, flush, a publish that finds the outgoing
//! buffer full) release the GVL and can be interrupted; calls that need not
//! wait keep it, because releasing it costs more than the work.

use super::args::{arity_error, not_utf8, seconds_arg};
use super::errors::{exception, IntoException};
use super::nogvl::{wait_for, Logs, Waited};
use crate::connect;
use crate::connection::{
    self as core, outgoing_full, publish_failure, publish_one, publish_timeout, Running,
};
use crate::errors::{Category, Failure};
use crate::outgoing_blocks::Part;
use crate::runtime::NatsRuntime;
use async_nats::{Message, Subject};
use futures_util::FutureExt;
use magnus::{
    function, method, prelude::*, typed_data::Obj, Error, RArray, RHash, RModule, RString, Ruby,
    Value,
};
use std::ops::Deref;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long `close` waits for buffered messages to reach the broker.
const CLOSE_FLUSH: Duration = Duration::from_secs(2);
/// How long `receive` polls an empty queue before it sleeps: longer than a
/// request/reply round trip on loopback, so that a reply on its way is taken
/// without a sleep and a wake-up, and short enough that an idle receiver
/// soon stops using its CPU. docs/performance.md measures this constant.
const RECEIVE_SPIN: Duration = Duration::from_micros(300);
/// Waits that are not expected to end soon go straight to sleep.
const NO_SPIN: Duration = Duration::ZERO;
/// `flush`'s deadline when none is given.
const DEFAULT_FLUSH: Duration = Duration::from_secs(10);

#[magnus::wrap(class = "ChoriaNats::Connection", free_immediately, size)]
pub struct Connection(core::Connection);

impl Deref for Connection {
    type Target = core::Connection;

    fn deref(&self) -> &core::Connection {
        &self.0
    }
}

impl Connection {
    /// `Connection.new(options)`: checks the options; does not connect.
    fn new(ruby: &Ruby, options: RHash) -> Result<Self, Error> {
        let settings = super::settings::from_hash(ruby, options).map_err(exception(ruby))?;
        let connection = core::Connection::new(settings).map_err(exception(ruby))?;
        Ok(Connection(connection))
    }

    /// Hands waiting log lines to the Ruby side's `emit_log(level, line)`.
    fn deliver_logs(ruby: &Ruby, rb_self: Obj<Self>) -> Result<(), Error> {
        for (level, line) in rb_self.logs().take() {
            let _: Value = rb_self.funcall("emit_log", (ruby.to_symbol(level.name()), line))?;
        }
        Ok(())
    }

    /// Waits for `future`, handing log lines to Ruby as they come.
    fn wait<F: std::future::Future>(
        ruby: &Ruby,
        rb_self: Obj<Self>,
        runtime: &NatsRuntime,
        deadline: Option<Instant>,
        spin: Duration,
        future: F,
    ) -> Result<Waited<F::Output>, Error> {
        let deliver = || Self::deliver_logs(ruby, rb_self);
        let logs = Logs {
            queue: rb_self.logs(),
            deliver: &deliver,
        };
        wait_for(ruby, runtime, Some(&logs), deadline, spin, future)
    }

    /// Connects; returns false when already connected. Waits as
    /// `retry_initial_connect` says; raises the gem's errors.
    fn connect(ruby: &Ruby, rb_self: Obj<Self>) -> Result<bool, Error> {
        if !rb_self.needs_connect().map_err(exception(ruby))? {
            return Ok(false);
        }
        let runtime = NatsRuntime::new().map_err(exception(ruby))?;
        rb_self.start_monitor(&runtime);
        let settings = rb_self.settings.clone();
        let shared = Arc::clone(&rb_self.shared);
        let mut task = runtime.spawn(async move { connect::initial(&settings, &shared).await });
        let connected = match Self::wait(ruby, rb_self, &runtime, None, NO_SPIN, &mut task)? {
            Waited::Done(Ok(Ok(connected))) => connected,
            Waited::Done(Ok(Err(failure))) => return Err(failure.into_exception(ruby)),
            Waited::Done(Err(join)) => {
                return Err(Failure::new(
                    Category::Internal,
                    format!("The NATS connect task failed: {join}"),
                )
                .into_exception(ruby))
            }
            Waited::TimedOut => unreachable!("no deadline was set"),
        };
        rb_self.start(connected, runtime);
        Self::deliver_logs(ruby, rb_self)?;
        Ok(true)
    }

    /// `publish(subject, payload, reply = nil)`.
    fn publish(ruby: &Ruby, rb_self: Obj<Self>, args: &[Value]) -> Result<(), Error> {
        // Arguments by hand: scan_args costs more than the rest of this fast path.
        let (subject, payload, reply) = match *args {
            [subject, payload] => (subject, payload, None),
            [subject, payload, reply] => (subject, payload, Some(reply)),
            _ => return Err(arity_error(ruby, args.len(), "2..3")),
        };
        let subject = RString::try_convert(subject)?;
        let payload = RString::try_convert(payload)?;
        let reply = match reply {
            Some(reply) if !reply.is_nil() => Some(RString::try_convert(reply)?),
            _ => None,
        };
        let running = rb_self.require_running().map_err(exception(ruby))?;
        // For the messages below: the subject itself is not cloned, which
        // would touch its block's reference count once more per message.
        // SAFETY: read and copied at once, with the GVL held.
        let subject_name = || unsafe { subject.to_string_lossy() }.into_owned();
        // Read the clock only when a wait needs it: most publishes never wait.
        let timeout = rb_self.settings.publish_timeout;
        let started = std::cell::OnceCell::new();
        let deadline = || *started.get_or_init(|| Instant::now() + timeout);
        let bound = rb_self.settings.outgoing_buffer_bytes;
        if !running.outgoing.has_room(payload.len(), bound) {
            let room = running.outgoing.room(payload.len(), bound);
            Self::wait_to_publish(
                ruby,
                rb_self,
                &running,
                deadline(),
                room,
                || {
                    format!(
                    "the outgoing buffer holds {} bytes of large messages not yet sent (outgoing_buffer_bytes {bound}): the broker is not reading",
                    running.outgoing.outstanding()
                )
                },
                &subject_name,
            )?;
        }
        if running.session.rebuilding() {
            let usable = running.session.usable();
            Self::wait_to_publish(
                ruby,
                rb_self,
                &running,
                deadline(),
                usable,
                || {
                    "the NATS connection is being rebuilt after its connection task ended"
                        .to_string()
                },
                &subject_name,
            )?;
        }
        // SAFETY: each slice is copied at once, with the GVL held and no Ruby
        // code in between.
        let copy =
            |part, string: RString| running.outgoing.copy(part, unsafe { string.as_slice() });
        let (subject, payload, reply) = (
            copy(Part::Subject, subject),
            copy(Part::Payload, payload),
            reply.map(|reply| copy(Part::Reply, reply)),
        );
        let subject = Subject::from_utf8(subject).map_err(|_| not_utf8(ruby, "subject"))?;
        let reply = match reply {
            Some(reply) => {
                Some(Subject::from_utf8(reply).map_err(|_| not_utf8(ruby, "reply subject"))?)
            }
            None => None,
        };
        if rb_self.logs().pending() {
            Self::deliver_logs(ruby, rb_self)?;
        }
        let size = payload.len();
        let client = running.session.client();
        let mut sending = pin!(publish_one(&client, subject, reply, payload));
        let result = match sending.as_mut().now_or_never() {
            Some(result) => result,
            None => match Self::wait(
                ruby,
                rb_self,
                &running.runtime,
                Some(deadline()),
                NO_SPIN,
                sending,
            )? {
                Waited::Done(result) => result,
                Waited::TimedOut => {
                    let why = outgoing_full(&rb_self);
                    return Err(
                        publish_timeout(&subject_name(), &rb_self, &why).into_exception(ruby)
                    );
                }
            },
        };
        result.map_err(|e| publish_failure(e, &subject_name(), size, &client).into_exception(ruby))
    }

    /// Waits, until `deadline`, for what a publish needs first; `why` says
    /// what it waited for when time runs out.
    fn wait_to_publish(
        ruby: &Ruby,
        rb_self: Obj<Self>,
        running: &Running,
        deadline: Instant,
        ready: impl std::future::Future<Output = ()>,
        why: impl Fn() -> String,
        subject_name: &dyn Fn() -> String,
    ) -> Result<(), Error> {
        match Self::wait(
            ruby,
            rb_self,
            &running.runtime,
            Some(deadline),
            NO_SPIN,
            ready,
        )? {
            Waited::Done(()) => Ok(()),
            Waited::TimedOut => {
                Err(publish_timeout(&subject_name(), &rb_self, &why()).into_exception(ruby))
            }
        }
    }

    /// Subscribes; returns false when already subscribed to `subject`.
    fn subscribe(ruby: &Ruby, rb_self: Obj<Self>, subject: String) -> Result<bool, Error> {
        let running = rb_self.require_running().map_err(exception(ruby))?;
        if running.session.is_subscribed(&subject) {
            return Ok(false);
        }
        let session = Arc::clone(&running.session);
        let subscribing = async {
            session.usable().await;
            session.subscribe(&subject).await
        };
        let timeout = rb_self.settings.publish_timeout;
        let deadline = Some(Instant::now() + timeout);
        let result = match Self::wait(
            ruby,
            rb_self,
            &running.runtime,
            deadline,
            NO_SPIN,
            subscribing,
        )? {
            Waited::Done(result) => result,
            Waited::TimedOut => {
                return Err(Failure::timeout(format!(
                    "Could not subscribe to {subject} within {:.1}s: {}",
                    timeout.as_secs_f64(),
                    rb_self.state_description()
                ))
                .into_exception(ruby))
            }
        };
        result.map_err(|e| {
            Failure::config(format!(
                "Cannot subscribe to the NATS subject {subject:?}: {e}"
            ))
            .into_exception(ruby)
        })
    }

    /// Unsubscribes; returns false when not subscribed to `subject`.
    fn unsubscribe(ruby: &Ruby, rb_self: Obj<Self>, subject: String) -> Result<bool, Error> {
        let running = rb_self.require_running().map_err(exception(ruby))?;
        Ok(running.session.unsubscribe(&subject))
    }

    /// `receive(timeout = nil)`: `[subject, reply, payload]`, or nil when the
    /// timeout passes. Without a timeout it waits until a message comes.
    fn receive(ruby: &Ruby, rb_self: Obj<Self>, args: &[Value]) -> Result<Option<RArray>, Error> {
        let timeout = seconds_arg(ruby, args, "receive")?;
        let running = rb_self.require_running().map_err(exception(ruby))?;
        if rb_self.logs().pending() {
            Self::deliver_logs(ruby, rb_self)?;
        }
        if let Some(message) = running.session.queue.try_take() {
            return Ok(Some(to_ruby(ruby, message)));
        }
        if timeout == Some(Duration::ZERO) {
            return Ok(None);
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut closed = running.session.closed.subscribe();
        let queue = Arc::clone(&running.session.queue);
        let receiving = async move {
            tokio::select! {
                message = queue.take() => message,
                _ = closed.wait_for(|closed| *closed) => None,
            }
        };
        match Self::wait(
            ruby,
            rb_self,
            &running.runtime,
            deadline,
            RECEIVE_SPIN,
            receiving,
        )? {
            Waited::Done(Some(message)) => Ok(Some(to_ruby(ruby, message))),
            Waited::Done(None) => Err(Failure::connection(
                "The NATS connection was closed while receiving",
            )
            .into_exception(ruby)),
            Waited::TimedOut => Ok(None),
        }
    }

    /// `flush(timeout = 10)`: waits until the broker has everything published.
    fn flush(ruby: &Ruby, rb_self: Obj<Self>, args: &[Value]) -> Result<(), Error> {
        let timeout = seconds_arg(ruby, args, "flush")?.unwrap_or(DEFAULT_FLUSH);
        let running = rb_self.require_running().map_err(exception(ruby))?;
        let deadline = Instant::now() + timeout;
        let client = running.session.client().clone();
        match Self::wait(ruby, rb_self, &running.runtime, Some(deadline), NO_SPIN, client.flush())? {
            Waited::Done(Ok(())) => Ok(()),
            Waited::Done(Err(e)) => Err(Failure::connection(format!("Flushing the NATS connection failed: {e}")).into_exception(ruby)),
            Waited::TimedOut => Err(Failure::timeout(format!(
                "The NATS broker did not confirm our messages within {:.1}s: it is unreachable or overloaded ({})",
                timeout.as_secs_f64(),
                rb_self.state_description()
            ))
            .into_exception(ruby)),
        }
    }

    /// Flushes what is buffered (briefly), ends every subscription and the
    /// connection, and stops its threads. Idempotent.
    fn close(ruby: &Ruby, rb_self: Obj<Self>) -> Result<(), Error> {
        let Some(running) = rb_self.begin_close() else {
            return Ok(());
        };
        if running.flush_on_close() {
            let client = running.session.client().clone();
            let deadline = Some(Instant::now() + CLOSE_FLUSH);
            let _ = Self::wait(
                ruby,
                rb_self,
                &running.runtime,
                deadline,
                NO_SPIN,
                client.flush(),
            )?;
        }
        rb_self.finish_close(running);
        Self::deliver_logs(ruby, rb_self)
    }

    fn is_connected(&self) -> bool {
        self.0.is_connected()
    }

    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    /// `host:port` of the broker in use, or nil.
    fn connected_server(&self) -> Option<String> {
        self.0.connected_server()
    }

    /// Counters and the pool, in the shape Choria tooling reads.
    /// `count_skipped`: counts a message the connector skipped because it
    /// was not an envelope, for `stats`, the status file and the metrics.
    fn count_skipped(&self) {
        self.shared.count_skipped();
    }

    fn stats(ruby: &Ruby, rb_self: Obj<Self>) -> Result<RHash, Error> {
        let hash = ruby.hash_new();
        let stats = rb_self.0.stats();
        let settings = &rb_self.settings;
        hash.aset("in_msgs", stats.in_msgs)?;
        hash.aset("out_msgs", stats.out_msgs)?;
        hash.aset("in_bytes", stats.in_bytes)?;
        hash.aset("out_bytes", stats.out_bytes)?;
        hash.aset("reconnects", stats.reconnects)?;
        hash.aset("dropped", stats.dropped)?;
        hash.aset("skipped", rb_self.shared.skipped())?;
        hash.aset("queued", stats.queued)?;
        hash.aset("queued_bytes", stats.queued_bytes)?;
        hash.aset("outgoing_bytes", stats.outgoing_bytes)?;
        hash.aset("outgoing_buffer_bytes", settings.outgoing_buffer_bytes)?;
        hash.aset("receive_capacity", settings.receive_capacity)?;
        hash.aset("receive_buffer_bytes", settings.receive_buffer_bytes)?;
        hash.aset("connected", rb_self.0.is_connected())?;
        hash.aset("connected_server", rb_self.0.connected_server())?;
        let pool = ruby.ary_new();
        for entry in rb_self.shared.pool().entries() {
            let server = ruby.hash_new();
            server.aset("server", entry.label.as_str())?;
            server.aset("source", entry.source.as_str())?;
            server.aset("failures", entry.failures)?;
            server.aset("last_error", entry.last_error.as_deref())?;
            pool.push(server)?;
        }
        hash.aset("servers", pool)?;
        Ok(hash)
    }
}

/// A received message as `[subject, reply, payload]`.
fn to_ruby(ruby: &Ruby, message: Message) -> RArray {
    let array = ruby.ary_new_capa(3);
    // Pushing onto an array we just made cannot fail.
    let _ = array.push(ruby.str_new(message.subject.as_str()));
    let _ = array.push(message.reply.as_ref().map(|r| ruby.str_new(r.as_str())));
    let _ = array.push(ruby.str_from_slice(&message.payload));
    array
}

pub fn define(ruby: &Ruby, module: RModule) -> Result<(), Error> {
    let class = module.define_class("Connection", ruby.class_object())?;
    class.define_singleton_method("new", function!(Connection::new, 1))?;
    class.define_method("connect", method!(Connection::connect, 0))?;
    class.define_method("publish", method!(Connection::publish, -1))?;
    class.define_method("subscribe", method!(Connection::subscribe, 1))?;
    class.define_method("unsubscribe", method!(Connection::unsubscribe, 1))?;
    class.define_method("receive", method!(Connection::receive, -1))?;
    class.define_method("flush", method!(Connection::flush, -1))?;
    class.define_method("close", method!(Connection::close, 0))?;
    class.define_method("connected?", method!(Connection::is_connected, 0))?;
    class.define_method("closed?", method!(Connection::is_closed, 0))?;
    class.define_method("connected_server", method!(Connection::connected_server, 0))?;
    class.define_method("stats", method!(Connection::stats, 0))?;
    class.define_method("count_skipped", method!(Connection::count_skipped, 0))?;
    Ok(())
}
