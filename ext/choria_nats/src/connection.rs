//! `ChoriaNats::Connection`: one verified-TLS NATS connection, usable from
//! several Ruby threads. Calls that must wait (connect, receive, flush, a
//! publish that finds the outgoing buffer full) release the GVL and can be
//! interrupted; calls that need not wait keep it, because releasing it costs
//! more than the work.

use crate::connect;
use crate::errors::{raise, Failure, Kind};
use crate::link::Link;
use crate::log_queue::LogQueue;
use crate::outgoing_blocks::{OutgoingBlocks, Part};
use crate::runtime::NatsRuntime;
use crate::server_pool::ServerPool;
use crate::session::Session;
use crate::settings::Settings;
use crate::wait::{wait_for, Waited};
use async_nats::client::{PublishError, PublishErrorKind};
use async_nats::connection::State;
use async_nats::{Client, Message, Subject};
use bytes::Bytes;
use futures_util::FutureExt;
use magnus::{
    function, method, prelude::*, typed_data::Obj, Error, RArray, RHash, RModule, RString, Ruby,
    Value,
};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long `close` waits for buffered messages to reach the broker.
const CLOSE_FLUSH: Duration = Duration::from_secs(2);
/// Messages async-nats buffers for sending (its default `client_capacity`),
/// also while reconnecting: a small bound, since replies hours old are worthless.
pub const OUTGOING_BUFFER: usize = 2048;
/// How long `receive` polls an empty queue before it sleeps: longer than a
/// request/reply round trip on loopback, and cheap next to the sleep and
/// wake-up it saves (see `wait::poll_until`).
const RECEIVE_SPIN: Duration = Duration::from_micros(300);
/// Waits that are not expected to end soon go straight to sleep.
const NO_SPIN: Duration = Duration::ZERO;
/// `flush`'s deadline when none is given.
const DEFAULT_FLUSH: Duration = Duration::from_secs(10);

/// What exists only while connected.
struct Live {
    /// The client, its queue and subscriptions, and their supervisor.
    session: Arc<Session>,
    /// Where publish copies its subjects and payloads.
    outgoing: OutgoingBlocks,
    /// Last, so the tasks above go first.
    runtime: NatsRuntime,
}

#[magnus::wrap(class = "ChoriaNats::Connection", free_immediately, size)]
pub struct Connection {
    settings: Settings,
    link: Arc<Link>,
    live: RwLock<Option<Arc<Live>>>,
    closed: AtomicBool,
}

impl Drop for Connection {
    fn drop(&mut self) {
        let live = self
            .live
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(live) = live {
            if live.runtime.forked_for_sure() {
                // A child of the process that connected: nothing behind it runs.
                std::mem::forget(live);
            }
        }
    }
}

fn publish_failure(error: PublishError, subject: &str, size: usize, client: &Client) -> Failure {
    match error.kind() {
        PublishErrorKind::MaxPayloadExceeded => Failure::new(
            Kind::Publish,
            format!(
                "The message for {subject} is {size} bytes, over the broker's max_payload of {} bytes: send less, or raise max_payload on the broker",
                client.max_payload()
            ),
        ),
        PublishErrorKind::InvalidSubject => {
            Failure::new(Kind::Publish, format!("Cannot publish to the invalid NATS subject {subject:?}"))
        }
        PublishErrorKind::Send => Failure::connection(format!(
            "Cannot publish to {subject}: the NATS connection has ended"
        )),
    }
}

async fn publish_one(
    client: &Client,
    subject: Subject,
    reply: Option<Subject>,
    payload: Bytes,
) -> Result<(), PublishError> {
    match reply {
        Some(reply) => client.publish_with_reply(subject, reply, payload).await,
        None => client.publish(subject, payload).await,
    }
}

fn not_utf8(ruby: &Ruby, what: &str) -> Error {
    Failure::new(
        Kind::Publish,
        format!("Cannot publish: the {what} is not valid UTF-8"),
    )
    .into_error(ruby)
}

/// Ruby's own message for a wrong number of arguments.
fn arity_error(ruby: &Ruby, given: usize, expected: &str) -> Error {
    Error::new(
        ruby.exception_arg_error(),
        format!("wrong number of arguments (given {given}, expected {expected})"),
    )
}

/// The optional timeout argument in seconds: none or nil for none.
fn seconds_arg(ruby: &Ruby, args: &[Value], what: &str) -> Result<Option<Duration>, Error> {
    let value = match *args {
        [] => return Ok(None),
        [value] if value.is_nil() => return Ok(None),
        [value] => f64::try_convert(value)?,
        _ => return Err(arity_error(ruby, args.len(), "0..1")),
    };
    if value.is_finite() && value >= 0.0 {
        Ok(Some(Duration::from_secs_f64(value)))
    } else {
        Err(Failure::config(format!(
            "The {what} timeout must be a number of seconds, 0 or more, not {value}"
        ))
        .into_error(ruby))
    }
}

impl Connection {
    /// `Connection.new(options)`: checks the options; does not connect.
    fn new(ruby: &Ruby, options: RHash) -> Result<Self, Error> {
        let settings = crate::ruby_api::settings::from_hash(ruby, options).map_err(raise(ruby))?;
        let pool = ServerPool::new(&settings.servers, settings.randomize, &mut rand::rng())
            .map_err(raise(ruby))?;
        let link = Link::new(pool, settings.backoff);
        Ok(Connection {
            settings,
            link,
            live: RwLock::new(None),
            closed: AtomicBool::new(false),
        })
    }

    fn current(&self) -> Option<Arc<Live>> {
        self.live
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The live connection, or why there is none.
    fn live(&self) -> Result<Arc<Live>, Failure> {
        match self.current() {
            Some(live) if live.runtime.forked() => Err(Failure::connection(
                "This NATS connection belongs to the process that made it, before a fork: connect again in this process",
            )),
            Some(live) => Ok(live),
            None if self.closed.load(Ordering::Acquire) => {
                Err(Failure::connection("The NATS connection is closed: make a new one"))
            }
            None => Err(Failure::connection("Not connected to NATS: call connect first")),
        }
    }

    fn logs(&self) -> &LogQueue {
        &self.link.logs
    }

    /// Hands waiting log lines to the Ruby side's `emit_log(level, line)`.
    fn deliver_logs(ruby: &Ruby, rb_self: Obj<Self>) -> Result<(), Error> {
        for (level, line) in rb_self.link.logs.take() {
            let _: Value = rb_self.funcall("emit_log", (ruby.to_symbol(level.name()), line))?;
        }
        Ok(())
    }

    fn wait<F: std::future::Future>(
        ruby: &Ruby,
        rb_self: Obj<Self>,
        runtime: &NatsRuntime,
        deadline: Option<Instant>,
        spin: Duration,
        future: F,
    ) -> Result<Waited<F::Output>, Error> {
        let deliver = || Self::deliver_logs(ruby, rb_self);
        wait_for(
            ruby,
            runtime,
            rb_self.logs(),
            &deliver,
            deadline,
            spin,
            future,
        )
    }

    /// Connects; returns false when already connected. Waits as
    /// `retry_initial_connect` says; raises the gem's errors.
    fn connect(ruby: &Ruby, rb_self: Obj<Self>) -> Result<bool, Error> {
        if rb_self.closed.load(Ordering::Acquire) {
            return Err(
                Failure::connection("The NATS connection is closed: make a new one")
                    .into_error(ruby),
            );
        }
        if rb_self.current().is_some() {
            rb_self.live().map_err(raise(ruby))?;
            return Ok(false);
        }
        let runtime = NatsRuntime::new().map_err(raise(ruby))?;
        let settings = rb_self.settings.clone();
        let link = Arc::clone(&rb_self.link);
        let mut task = runtime.spawn(async move { connect::initial(&settings, &link).await });
        let connected = match Self::wait(ruby, rb_self, &runtime, None, NO_SPIN, &mut task)? {
            Waited::Done(Ok(Ok(connected))) => connected,
            Waited::Done(Ok(Err(failure))) => return Err(failure.into_error(ruby)),
            Waited::Done(Err(join)) => {
                return Err(Failure::new(
                    Kind::Internal,
                    format!("The NATS connect task failed: {join}"),
                )
                .into_error(ruby))
            }
            Waited::TimedOut => unreachable!("no deadline was set"),
        };
        let session = Session::start(
            connected,
            &rb_self.settings,
            Arc::clone(&rb_self.link),
            runtime.handle().clone(),
        );
        let live = Live {
            session,
            outgoing: OutgoingBlocks::default(),
            runtime,
        };
        *rb_self.live.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(live));
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
        let live = rb_self.live().map_err(raise(ruby))?;
        // For the messages below: the subject itself is not cloned, which
        // would touch its block's reference count once more per message.
        // SAFETY: read and copied at once, with the GVL held.
        let subject_name = || unsafe { subject.to_string_lossy() }.into_owned();
        // Read the clock only when a wait needs it: most publishes never wait.
        let timeout = rb_self.settings.publish_timeout;
        let started = std::cell::OnceCell::new();
        let deadline = || *started.get_or_init(|| Instant::now() + timeout);
        let bound = rb_self.settings.outgoing_buffer_bytes;
        if !live.outgoing.has_room(payload.len(), bound) {
            let room = live.outgoing.room(payload.len(), bound);
            Self::wait_to_publish(
                ruby,
                rb_self,
                &live,
                deadline(),
                room,
                || {
                    format!(
                    "the outgoing buffer holds {} bytes of large messages not yet sent (outgoing_buffer_bytes {bound}): the broker is not reading",
                    live.outgoing.outstanding()
                )
                },
                &subject_name,
            )?;
        }
        if live.session.rebuilding() {
            let usable = live.session.usable();
            Self::wait_to_publish(
                ruby,
                rb_self,
                &live,
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
        let copy = |part, string: RString| live.outgoing.copy(part, unsafe { string.as_slice() });
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
        let client = live.session.client();
        let mut sending = pin!(publish_one(&client, subject, reply, payload));
        let result = match sending.as_mut().now_or_never() {
            Some(result) => result,
            None => {
                match Self::wait(ruby, rb_self, &live.runtime, Some(deadline()), NO_SPIN, sending)? {
                    Waited::Done(result) => result,
                    Waited::TimedOut => {
                        return Err(Failure::timeout(format!(
                            "Could not publish to {} within {:.1}s: the outgoing buffer of {} messages is full ({}); the message was not sent",
                            subject_name(),
                            rb_self.settings.publish_timeout.as_secs_f64(),
                            OUTGOING_BUFFER,
                            rb_self.state_words()
                        ))
                        .into_error(ruby))
                    }
                }
            }
        };
        result.map_err(|e| publish_failure(e, &subject_name(), size, &client).into_error(ruby))
    }

    /// Waits, until `deadline`, for what a publish needs first; `why` says
    /// what it waited for when time runs out.
    fn wait_to_publish(
        ruby: &Ruby,
        rb_self: Obj<Self>,
        live: &Live,
        deadline: Instant,
        ready: impl std::future::Future<Output = ()>,
        why: impl Fn() -> String,
        subject_name: &dyn Fn() -> String,
    ) -> Result<(), Error> {
        match Self::wait(ruby, rb_self, &live.runtime, Some(deadline), NO_SPIN, ready)? {
            Waited::Done(()) => Ok(()),
            Waited::TimedOut => Err(Failure::timeout(format!(
                "Could not publish to {} within {:.1}s: {}; the message was not sent",
                subject_name(),
                rb_self.settings.publish_timeout.as_secs_f64(),
                why()
            ))
            .into_error(ruby)),
        }
    }

    /// Subscribes; returns false when already subscribed to `subject`.
    fn subscribe(ruby: &Ruby, rb_self: Obj<Self>, subject: String) -> Result<bool, Error> {
        let live = rb_self.live().map_err(raise(ruby))?;
        if live.session.is_subscribed(&subject) {
            return Ok(false);
        }
        let session = Arc::clone(&live.session);
        let subscribing = async {
            session.usable().await;
            session.subscribe(&subject).await
        };
        let timeout = rb_self.settings.publish_timeout;
        let deadline = Some(Instant::now() + timeout);
        let result = match Self::wait(ruby, rb_self, &live.runtime, deadline, NO_SPIN, subscribing)?
        {
            Waited::Done(result) => result,
            Waited::TimedOut => {
                return Err(Failure::timeout(format!(
                    "Could not subscribe to {subject} within {:.1}s: {}",
                    timeout.as_secs_f64(),
                    rb_self.state_words()
                ))
                .into_error(ruby))
            }
        };
        result.map_err(|e| {
            Failure::config(format!(
                "Cannot subscribe to the NATS subject {subject:?}: {e}"
            ))
            .into_error(ruby)
        })
    }

    /// Unsubscribes; returns false when not subscribed to `subject`.
    fn unsubscribe(ruby: &Ruby, rb_self: Obj<Self>, subject: String) -> Result<bool, Error> {
        let live = rb_self.live().map_err(raise(ruby))?;
        Ok(live.session.unsubscribe(&subject))
    }

    /// `receive(timeout = nil)`: `[subject, reply, payload]`, or nil when the
    /// timeout passes. Without a timeout it waits until a message comes.
    fn receive(ruby: &Ruby, rb_self: Obj<Self>, args: &[Value]) -> Result<Option<RArray>, Error> {
        let timeout = seconds_arg(ruby, args, "receive")?;
        let live = rb_self.live().map_err(raise(ruby))?;
        if rb_self.logs().pending() {
            Self::deliver_logs(ruby, rb_self)?;
        }
        if let Some(message) = live.session.queue.try_take() {
            return Ok(Some(to_ruby(ruby, message)));
        }
        if timeout == Some(Duration::ZERO) {
            return Ok(None);
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut closed = live.session.closed.subscribe();
        let queue = Arc::clone(&live.session.queue);
        let receiving = async move {
            tokio::select! {
                message = queue.take() => message,
                _ = closed.wait_for(|closed| *closed) => None,
            }
        };
        match Self::wait(
            ruby,
            rb_self,
            &live.runtime,
            deadline,
            RECEIVE_SPIN,
            receiving,
        )? {
            Waited::Done(Some(message)) => Ok(Some(to_ruby(ruby, message))),
            Waited::Done(None) => Err(Failure::connection(
                "The NATS connection was closed while receiving",
            )
            .into_error(ruby)),
            Waited::TimedOut => Ok(None),
        }
    }

    /// `flush(timeout = 10)`: waits until the broker has everything published.
    fn flush(ruby: &Ruby, rb_self: Obj<Self>, args: &[Value]) -> Result<(), Error> {
        let timeout = seconds_arg(ruby, args, "flush")?.unwrap_or(DEFAULT_FLUSH);
        let live = rb_self.live().map_err(raise(ruby))?;
        let deadline = Instant::now() + timeout;
        let client = live.session.client().clone();
        match Self::wait(ruby, rb_self, &live.runtime, Some(deadline), NO_SPIN, client.flush())? {
            Waited::Done(Ok(())) => Ok(()),
            Waited::Done(Err(e)) => Err(Failure::connection(format!("Flushing the NATS connection failed: {e}")).into_error(ruby)),
            Waited::TimedOut => Err(Failure::timeout(format!(
                "The NATS broker did not confirm our messages within {:.1}s: it is unreachable or overloaded ({})",
                timeout.as_secs_f64(),
                rb_self.state_words()
            ))
            .into_error(ruby)),
        }
    }

    fn state_words(&self) -> String {
        match self
            .current()
            .map(|live| live.session.client().connection_state())
        {
            Some(State::Connected) => {
                format!("connected to {}", self.link.pool().current().describe())
            }
            Some(_) => "disconnected from NATS, reconnecting".to_string(),
            None => "not connected".to_string(),
        }
    }

    /// Flushes what is buffered (briefly), ends every subscription and the
    /// connection, and stops its threads. Idempotent.
    fn close(ruby: &Ruby, rb_self: Obj<Self>) -> Result<(), Error> {
        if rb_self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let live = rb_self
            .live
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(live) = live else {
            return Ok(());
        };
        if live.runtime.forked_for_sure() {
            std::mem::forget(live);
            return Ok(());
        }
        live.session.unsubscribe_all();
        let client = live.session.client().clone();
        if client.connection_state() == State::Connected {
            let deadline = Some(Instant::now() + CLOSE_FLUSH);
            let _ = Self::wait(
                ruby,
                rb_self,
                &live.runtime,
                deadline,
                NO_SPIN,
                client.flush(),
            )?;
        }
        live.session.closed.send_replace(true);
        rb_self
            .link
            .log(crate::log_queue::Level::Info, "Connection to NATS closed");
        drop(live);
        Self::deliver_logs(ruby, rb_self)
    }

    fn is_connected(&self) -> bool {
        self.current().is_some_and(|live| {
            !live.runtime.forked()
                && !live.session.rebuilding()
                && live.session.client().connection_state() == State::Connected
        })
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// `host:port` of the broker in use, or nil.
    fn connected_server(&self) -> Option<String> {
        self.is_connected()
            .then(|| self.link.pool().current().label.clone())
    }

    /// Counters and the pool, in the shape Choria tooling reads.
    fn stats(ruby: &Ruby, rb_self: Obj<Self>) -> Result<RHash, Error> {
        let hash = ruby.hash_new();
        let live = rb_self.current();
        let (in_msgs, out_msgs, in_bytes, out_bytes, dropped, queued, queued_bytes) = match &live {
            Some(live) => {
                let c = live.session.counters();
                let queue = &live.session.queue;
                (
                    c.in_messages,
                    c.out_messages,
                    c.in_bytes,
                    c.out_bytes,
                    queue.dropped(),
                    queue.len() as u64,
                    queue.held_bytes() as u64,
                )
            }
            None => (0, 0, 0, 0, 0, 0, 0),
        };
        let connects = rb_self.link.connects();
        let slow = rb_self.link.slow_consumer_drops.load(Ordering::Relaxed);
        hash.aset("in_msgs", in_msgs)?;
        hash.aset("out_msgs", out_msgs)?;
        hash.aset("in_bytes", in_bytes)?;
        hash.aset("out_bytes", out_bytes)?;
        hash.aset("reconnects", connects.saturating_sub(1))?;
        hash.aset("dropped", dropped + slow)?;
        hash.aset("queued", queued)?;
        hash.aset("queued_bytes", queued_bytes)?;
        let outgoing = rb_self
            .current()
            .map_or(0, |live| live.outgoing.outstanding());
        hash.aset("outgoing_bytes", outgoing)?;
        hash.aset(
            "outgoing_buffer_bytes",
            rb_self.settings.outgoing_buffer_bytes,
        )?;
        hash.aset("receive_capacity", rb_self.settings.receive_capacity)?;
        hash.aset(
            "receive_buffer_bytes",
            rb_self.settings.receive_buffer_bytes,
        )?;
        hash.aset("connected", rb_self.is_connected())?;
        hash.aset("connected_server", rb_self.connected_server())?;
        let pool = ruby.ary_new();
        for entry in rb_self.link.pool().entries() {
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
    Ok(())
}
