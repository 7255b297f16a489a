//! One server connection: how it is opened, checked before reuse, and its statement cache.

use crate::cancel::{Canceller, CANCEL_GRACE};
use crate::config::{Settings, SslMode, TargetSessionAttrs};
use crate::convert::Style;
use crate::error::{io_source, Error};
use crate::events::Events;
use crate::hosts::{Placement, Role};
use crate::stats::Stats;
use deadpool::managed::{Metrics, RecycleError, RecycleResult};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_postgres::{Client, NoTls, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

/// A statement with the result format codes its Bind asks for (see `convert::decodes_binary`).
#[derive(Clone)]
pub(crate) struct Prepared {
    /// The driver's statement (named, or unnamed when only described).
    pub stmt: Statement,
    /// One code for every column, or one per column.
    pub formats: Arc<[i16]>,
    /// The codes in pg's driver style when the caller parses no type itself (`pgwarden/pg`'s
    /// common case), so its statements do not compute them each time.
    pg_formats: Arc<[i16]>,
}

impl Prepared {
    /// Computes the format codes from the statement's column types.
    pub(crate) fn new(stmt: Statement) -> Self {
        let codes = |style| crate::convert::result_formats(stmt.columns().iter().map(|c| c.type_()), style).into();
        let (formats, pg_formats) = (codes(Style::Pg), codes(Style::PgDriver { text_types: 0 }));
        Prepared { stmt, formats, pg_formats }
    }

    /// The format codes for a result in `style`: pg's driver style asks for more columns as
    /// text (see `convert::pg_driver`); only a caller's own parsers make them computed anew.
    pub(crate) fn formats_for(&self, style: Style) -> Arc<[i16]> {
        match style {
            Style::PgDriver { text_types: 0 } => self.pg_formats.clone(),
            Style::PgDriver { .. } => {
                crate::convert::result_formats(self.stmt.columns().iter().map(|c| c.type_()), style).into()
            }
            _ => self.formats.clone(),
        }
    }
}

/// The next connection's [`Conn::serial`].
static NEXT_SERIAL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

/// How many described statements a connection remembers when it keeps no named statements.
const DESCRIBED_CAPACITY: usize = 256;

/// A bounded LRU of prepared statements, keyed by SQL text.
///
/// Unbounded caches (deadpool-postgres' `prepare_cached`) grow without limit; here the least
/// recently used statement is dropped, which closes it on the server.
#[derive(Default)]
pub(crate) struct StatementCache {
    capacity: usize,
    tick: u64,
    entries: HashMap<String, (Prepared, u64)>,
}

impl StatementCache {
    /// A cache holding at most `capacity` statements (0 disables it).
    pub(crate) fn new(capacity: usize) -> Self {
        StatementCache { capacity, tick: 0, entries: HashMap::new() }
    }

    /// Whether named statements are used at all.
    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// The cached statement for `sql`, marked as just used.
    pub(crate) fn get(&mut self, sql: &str) -> Option<Prepared> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(sql).map(|(stmt, used)| {
            *used = tick;
            stmt.clone()
        })
    }

    /// Remembers `stmt`, evicting the least recently used entry when full.
    pub(crate) fn insert(&mut self, sql: &str, stmt: Prepared) {
        if self.entries.len() >= self.capacity {
            let oldest = self.entries.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.entries.remove(&k);
            }
        }
        self.tick += 1;
        self.entries.insert(sql.to_string(), (stmt, self.tick));
    }

    /// Forgets the statement for `sql` (its plan went stale).
    pub(crate) fn remove(&mut self, sql: &str) {
        self.entries.remove(sql);
    }
}

/// A pooled connection.
pub(crate) struct Conn {
    /// The driver's client.
    pub client: Client,
    /// Cancels this connection's running statement; built once (it copies the socket config).
    pub cancel: Arc<Canceller>,
    /// Named statements prepared on this connection.
    pub cache: StatementCache,
    /// Column types of statements sent unnamed (PgBouncer, cache 0), so that their Bind can
    /// ask for the right format per column; nothing of them stays on the server.
    pub described: StatementCache,
    /// True while the connection sits in the pool (its death then is a background `error` event).
    pub idle: Arc<AtomicBool>,
    /// This connection's number in the process: the `connectionLost` event of a connection in
    /// use names it, so the client holding it can be told.
    pub serial: u32,
    /// Set when the connection must not be reused (a cancel that did not land, a lost socket).
    pub broken: bool,
    /// A statement may have changed the session beyond its transaction (`sql::Shape::session`):
    /// reset before reuse (see `src/reset.rs`).
    pub session_changed: bool,
    /// `onConnect` ran a statement on it that may set session state: a reset to its startup
    /// settings would undo that, so a changed session closes it instead (see `src/reset.rs`).
    pub set_up_by_hook: bool,
    /// Checkouts it has served (for `maxUses`).
    pub uses: u64,
    /// When it was last given back to the pool (for `idleCheckMs`).
    pub idle_since: Option<std::time::Instant>,
    /// The last statement run that was not a plain read or write (BEGIN, SET, a script…), for
    /// the report of a connection given back inside a transaction.
    pub last_command: Option<String>,
    /// This connection's own lifetime: maxLifetime less up to 2.5%, so connections do not all
    /// expire together (as HikariCP does).
    lifetime: Option<Duration>,
    /// `host:port` of its server (one of the pool's hosts), safe to print.
    pub address: Arc<str>,
    /// The placement generation it was opened in (see [`Placement::demote`]).
    generation: u64,
}

impl Conn {
    /// Resolves once every request sent on this connection was answered up to its
    /// ReadyForQuery (at once, nearly always).
    pub(crate) async fn settled(&self) {
        let mut polls = 0;
        while !self.client.is_settled() {
            // The connection task reads it within microseconds, nearly always.
            if polls < 16 {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            polls += 1;
        }
    }
}

/// Whether `conn` is outside any transaction once every request sent on it was answered
/// (within the cancel grace).
async fn settled_idle(conn: &Conn) -> bool {
    tokio::time::timeout(CANCEL_GRACE, conn.settled()).await.is_ok()
        && conn.client.transaction_status() == tokio_postgres::TransactionStatus::Idle
}

/// Opens and checks connections for the deadpool pool.
pub(crate) struct Manager {
    settings: Arc<Settings>,
    pg: tokio_postgres::Config,
    stats: Arc<Stats>,
    events: Arc<Events>,
    tls: Option<MakeRustlsConnect>,
    /// The pool's id, for log events.
    id: u64,
    /// Asked for the password of each new connection, when set (rotating credentials).
    password_source: std::sync::OnceLock<PasswordSource>,
    /// Runs on each new connection before it serves anyone, when set (`onConnect`).
    connect_hook: std::sync::OnceLock<ConnectHook>,
    /// Where the pool's connections go (several hosts, failovers).
    pub(crate) placement: Placement,
}

/// A new connection lent to the pool's `onConnect` hook: its statements run in the order the
/// hook issues them (see `src/held.rs`); it is taken back once the hook has settled.
pub(crate) type Lent = crate::held::Held<Conn>;

/// The pool's `onConnect` hook (a JS function): runs on each new connection before it serves
/// anyone; an error is why the connection must be closed.
pub(crate) type ConnectHook =
    Arc<dyn Fn(Lent) -> futures_util::future::BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Gives the password for a new connection (a JS function: IAM tokens and other rotating
/// credentials); an error is the reason it could not.
pub(crate) type PasswordSource =
    Arc<dyn Fn() -> futures_util::future::BoxFuture<'static, Result<String, String>> + Send + Sync>;

/// Escapes a value for the startup `options` string (`-c name=value`).
fn option_value(v: &str) -> String {
    v.replace('\\', "\\\\").replace(' ', "\\ ")
}

impl Manager {
    /// A manager for `settings`; fails when the settings ask for something this build cannot do.
    pub(crate) fn new(settings: Arc<Settings>, stats: Arc<Stats>, events: Arc<Events>, id: u64) -> Result<Self, Error> {
        let tls = crate::tls::connector(&settings.ssl)?;
        let ssl_mode = match settings.ssl.mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
        };
        // Each connection adds the host it tries (see `open`).
        let mut pg = tokio_postgres::Config::new();
        pg.user(&settings.user)
            .dbname(&settings.database)
            .application_name(&settings.application_name)
            .ssl_mode(ssl_mode);
        // TCP keepalive and TCP_USER_TIMEOUT, as libpq applies them (TCP sockets only); 0 leaves
        // the system's value: an idle time of zero is the vendored driver's "not set".
        pg.keepalives(settings.keepalives).keepalives_idle(Duration::from_millis(settings.keepalives_idle_ms));
        if settings.keepalives_interval_ms > 0 {
            pg.keepalives_interval(Duration::from_millis(settings.keepalives_interval_ms));
        }
        if settings.keepalives_count > 0 {
            pg.keepalives_retries(settings.keepalives_count);
        }
        if settings.tcp_user_timeout_ms > 0 {
            pg.tcp_user_timeout(Duration::from_millis(settings.tcp_user_timeout_ms));
        }
        // Several hosts with passwords from the password file: each connection sets its host's.
        if let (Some(p), true) = (&settings.password, settings.host_passwords.is_empty()) {
            pg.password(&p.0);
        }
        if settings.connect_timeout_ms > 0 {
            pg.connect_timeout(Duration::from_millis(settings.connect_timeout_ms));
        }
        // PgBouncer rejects unknown startup parameters; everything else gets its session settings here.
        if !settings.pgbouncer {
            // The user's own options (libpq's `options` / PGOPTIONS) first: pgwarden's settings
            // after them win where both set the same parameter.
            let mut options: Vec<String> = settings.options.iter().cloned().collect();
            if let Some(schema) = &settings.schema {
                options.push(format!("-c search_path={}", option_value(schema)));
            }
            if let Some(zone) = &settings.time_zone {
                options.push(format!("-c TimeZone={}", option_value(zone)));
            }
            if let Some(ms) = settings.idle_in_transaction_timeout_ms {
                options.push(format!("-c idle_in_transaction_session_timeout={ms}"));
            }
            if !options.is_empty() {
                pg.options(options.join(" "));
            }
        }
        Ok(Manager {
            settings,
            pg,
            stats,
            events,
            tls,
            id,
            password_source: Default::default(),
            connect_hook: Default::default(),
            placement: Placement::new(),
        })
    }

    /// Drives a connection on the runtime. It ends when the socket closes; a failure there
    /// never reaches the process: the next checkout sees `is_closed()` and replaces it.
    fn spawn<S, T>(&self, mut connection: tokio_postgres::Connection<S, T>, idle: Arc<AtomicBool>, serial: u32)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let stats = self.stats.clone();
        stats.open_connections.fetch_add(1, Ordering::AcqRel);
        let events = self.events.clone();
        let id = self.id;
        tokio::spawn(async move {
            // Driven message by message (as upstream's Future does), so the server's
            // asynchronous messages become events instead of being dropped.
            let ended = loop {
                match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    Some(Ok(message)) => events.emit_server_message(message),
                    Some(Err(e)) => break Err(e),
                    None => break Ok(()),
                }
            };
            if let Err(e) = ended {
                tracing::debug!(pool = id, "connection ended: {e}");
                // An idle connection has nobody to tell, so its failure becomes the pool's
                // `error` event (never a crash). One in use reports it to its statement, and
                // to the client holding it, if one does (pg's clients emit it at once).
                let err = crate::error::from_driver(&e, false);
                if idle.load(Ordering::Acquire) {
                    events.emit("error", err.to_payload(None));
                } else {
                    events
                        .emit("connectionLost", serde_json::json!({ "serial": serial, "error": err.to_payload(None) }));
                }
            }
            Stats::bump(&stats.connections_closed);
            stats.open_connections.fetch_sub(1, Ordering::AcqRel);
        });
    }

    /// Sets the hook run on each new connection (once; later calls change nothing).
    pub(crate) fn set_connect_hook(&self, hook: ConnectHook) {
        let _ = self.connect_hook.set(hook);
    }

    /// Runs the `onConnect` hook on a new connection; its error closes the connection (it is
    /// dropped here) and becomes the caller's.
    async fn set_up(&self, conn: Conn) -> Result<Conn, Error> {
        let Some(hook) = self.connect_hook.get() else { return Ok(conn) };
        let lent = Lent::new(conn);
        let outcome = hook(lent.clone()).await;
        // After the hook's own statements, which took their places before it settled.
        let conn = lent.take().await;
        let conn = match conn {
            // A hook that left a transaction open (or failed one) would hand its first caller a
            // session inside it: the connection is not handed out.
            Some(conn) if outcome.is_ok() && !settled_idle(&conn).await => {
                return Err(Error::ConnectHook { reason: "onConnect left the connection inside a transaction".into() });
            }
            conn => conn,
        };
        match (outcome, conn) {
            (Ok(()), Some(mut conn)) if !conn.broken && !conn.client.is_closed() => {
                // What the hook set is this connection's start, not a change to reset.
                conn.session_changed = false;
                Ok(conn)
            }
            (Ok(()), _) => Err(Error::ConnectHook { reason: "the connection was lost during onConnect".into() }),
            (Err(reason), _) => {
                tracing::warn!(pool = self.id, "onConnect failed on a new connection, which was closed: {reason}");
                Err(Error::ConnectHook { reason })
            }
        }
    }

    /// Sets where each new connection's password comes from (once; later calls change nothing).
    pub(crate) fn set_password_source(&self, source: PasswordSource) {
        let _ = self.password_source.set(source);
    }

    /// The connection settings for the next connection: with a fresh password when a source
    /// gives one.
    async fn config_for_next(&self) -> Result<std::borrow::Cow<'_, tokio_postgres::Config>, Error> {
        let Some(source) = self.password_source.get() else { return Ok(std::borrow::Cow::Borrowed(&self.pg)) };
        let password = source().await.map_err(|reason| {
            Stats::bump(&self.stats.connections_failed);
            Error::Unreachable {
                address: self.settings.address(),
                reason: format!("the password function failed: {reason}"),
            }
        })?;
        let mut pg = self.pg.clone();
        pg.password(password);
        Ok(std::borrow::Cow::Owned(pg))
    }

    fn connect_error(&self, e: &tokio_postgres::Error, address: &str) -> Error {
        if e.as_db_error().is_some() {
            return crate::error::from_driver(e, false);
        }
        let address = address.to_string();
        let tls = self.tls.is_some() && {
            let text = io_source(e).map(|io| io.to_string()).unwrap_or_else(|| e.to_string()).to_lowercase();
            text.contains("certificate") || text.contains("handshake") || text.contains("tls")
        };
        if tls {
            let reason = io_source(e).map(|io| io.to_string()).unwrap_or_else(|| e.to_string());
            return Error::Tls { address, reason };
        }
        match io_source(e) {
            Some(io) if io.kind() == std::io::ErrorKind::TimedOut => Error::ConnectTimeout { address },
            Some(io) => Error::Unreachable { address, reason: io.to_string() },
            None if e.to_string().contains("timeout") => Error::ConnectTimeout { address },
            None => Error::Unreachable { address, reason: e.to_string() },
        }
    }
}

impl deadpool::managed::Manager for Manager {
    type Type = Conn;
    type Error = Error;

    async fn create(&self) -> Result<Conn, Error> {
        // Boxed: a connection's handshake has a large state, and deadpool's checkout future,
        // which every caller waiting for a connection holds, would otherwise carry it inline.
        Box::pin(async { self.set_up(self.open().await?).await }).await
    }

    async fn recycle(&self, conn: &mut Conn, metrics: &Metrics) -> RecycleResult<Error> {
        self.check(conn, metrics)?;
        let check_after = Duration::from_millis(self.settings.idle_check_ms);
        if !check_after.is_zero() && conn.idle_since.is_some_and(|t| t.elapsed() >= check_after) {
            self.ping(conn).await?;
        }
        Ok(())
    }
}

impl Manager {
    /// Opens a connection on the first host (in order, or shuffled with load_balance_hosts)
    /// that answers and fits target_session_attrs; one host with `any` is simply connected to.
    async fn open(&self) -> Result<Conn, Error> {
        let base = self.config_for_next().await?;
        let hosts = &self.settings.hosts;
        let target = self.settings.target_session_attrs;
        if hosts.len() == 1 && target == TargetSessionAttrs::Any {
            return self.open_on(&base, 0).await;
        }
        let seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
        let order = crate::hosts::order(hosts.len(), self.settings.load_balance_random, seed);
        let (mut refused, mut server_error) = (Vec::new(), None);
        for &strict in crate::hosts::passes(target) {
            for &i in &order {
                let conn = match self.open_on(&base, i).await {
                    Ok(conn) => conn,
                    Err(e) => {
                        refused.push(format!("{}:{} ({})", hosts[i].0, hosts[i].1, e.message()));
                        // A server's own refusal (a wrong password, no such database) is kept:
                        // it says more than "unreachable" when no host fits.
                        if matches!(e, Error::Server { .. }) {
                            server_error.get_or_insert(e);
                        }
                        continue;
                    }
                };
                match self.role_of(&conn).await {
                    Ok(role) if target.accepts(role.in_recovery, role.read_only, strict) => {
                        self.arrived(i);
                        return Ok(conn);
                    }
                    Ok(role) => refused.push(format!("{}:{} ({})", hosts[i].0, hosts[i].1, role.words())),
                    Err(e) => refused.push(format!("{}:{} ({})", hosts[i].0, hosts[i].1, e.message())),
                }
            }
        }
        Err(server_error.unwrap_or_else(|| Error::Unreachable {
            address: self.settings.address(),
            reason: format!("no server fits target_session_attrs={}: {}", target.name(), refused.join(", ")),
        }))
    }

    /// Every host with its role now (`pgwarden doctor`): `{ address, role }` or `{ address, error }`.
    pub(crate) async fn roles(&self) -> Result<Vec<serde_json::Value>, Error> {
        let base = self.config_for_next().await?;
        let mut out = Vec::with_capacity(self.settings.hosts.len());
        for i in 0..self.settings.hosts.len() {
            let (host, port) = &self.settings.hosts[i];
            let address = format!("{host}:{port}");
            let role = match self.open_on(&base, i).await {
                Ok(conn) => self.role_of(&conn).await,
                Err(e) => Err(e),
            };
            out.push(match role {
                Ok(r) => serde_json::json!({ "address": address, "role": r.words() }),
                Err(e) => serde_json::json!({ "address": address, "error": format!("{}: {}", e.code(), e.message()) }),
            });
        }
        Ok(out)
    }

    /// The role of `conn`'s server by its sessions' default, after a statement of it was
    /// refused as read-only; `None` when it cannot be asked (the connection is inside a failed
    /// transaction block, or gone).
    pub(crate) async fn session_role(&self, conn: &Conn) -> Option<Role> {
        self.ask_role(conn, crate::hosts::SESSION_ROLE_QUERY).await.ok()
    }

    /// The role of `conn`'s server, asked within connectTimeoutMs.
    async fn role_of(&self, conn: &Conn) -> Result<Role, Error> {
        self.ask_role(conn, crate::hosts::ROLE_QUERY).await
    }

    /// Asks `conn`'s server `query` (one of the role queries) within connectTimeoutMs.
    async fn ask_role(&self, conn: &Conn, query: &str) -> Result<Role, Error> {
        let ask = conn.client.simple_query(query);
        let rows = match self.settings.connect_timeout_ms {
            0 => ask.await,
            ms => tokio::time::timeout(Duration::from_millis(ms), ask)
                .await
                .map_err(|_| Error::ConnectTimeout { address: conn.address.to_string() })?,
        }
        .map_err(|e| crate::error::from_driver(&e, false))?;
        rows.iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => Some(Role::from_text(r.get(0)?, r.get(1)?)),
                _ => None,
            })
            .ok_or_else(|| Error::Internal("the role query returned no row".into()))
    }

    /// A connection opened on host `index`: a move of the pool's connections is logged once.
    /// With load_balance_hosts=random connections change hosts by design: no move is told.
    fn arrived(&self, index: usize) {
        if self.settings.load_balance_random {
            return;
        }
        if let Some(moved) = self.placement.arrived(index, &self.settings.hosts) {
            self.stats.failovers.record(moved.clone());
            tracing::warn!(
                pool = self.id,
                "new connections now go to {} (they went to {}): the server there fits target_session_attrs={}",
                moved.to,
                moved.from,
                self.settings.target_session_attrs.name()
            );
        }
    }

    /// Opens a connection on host `index` of the settings: the handshake (bounded by
    /// connectTimeoutMs), counted.
    async fn open_on(&self, base: &tokio_postgres::Config, index: usize) -> Result<Conn, Error> {
        let (host, port) = &self.settings.hosts[index];
        let address: Arc<str> = format!("{host}:{port}").into();
        let mut pg = base.clone();
        pg.host(host).port(*port);
        if let (Some(Some(password)), None) = (self.settings.host_passwords.get(index), self.password_source.get()) {
            pg.password(&password.0);
        }
        let idle = Arc::new(AtomicBool::new(true));
        let serial = NEXT_SERIAL.fetch_add(1, Ordering::Relaxed);
        let connect = async {
            match &self.tls {
                None => pg.connect(NoTls).await.map(|(c, conn)| (c, self.spawn(conn, idle.clone(), serial))),
                Some(tls) => pg.connect(tls.clone()).await.map(|(c, conn)| (c, self.spawn(conn, idle.clone(), serial))),
            }
        };
        // tokio-postgres' connect_timeout covers the TCP connect only; a peer that accepts
        // and then never answers the startup must not hang a checkout forever.
        let connected = match self.settings.connect_timeout_ms {
            0 => connect.await,
            ms => match tokio::time::timeout(Duration::from_millis(ms), connect).await {
                Ok(r) => r,
                Err(_) => return Err(self.attempt_failed(Error::ConnectTimeout { address: address.to_string() })),
            },
        };
        let client = match connected {
            Ok((client, ())) => client,
            Err(e) => return Err(self.attempt_failed(self.connect_error(&e, &address))),
        };
        Stats::bump(&self.stats.connections_created);
        if let Some((lasted, attempts)) = self.stats.outages.connected().filter(|_| !self.settings.is_replica) {
            tracing::warn!(
                pool = self.id,
                "connections open again after an outage of {} ms ({attempts} failed attempts)",
                lasted.as_millis()
            );
        }
        tracing::debug!(pool = self.id, "connection opened to {address}");
        // Behind PgBouncer a named statement may be gone by the next round trip: look enum,
        // domain and composite types up with unnamed statements too.
        client.set_unnamed_type_lookups(self.settings.pgbouncer);
        let lifetime = (self.settings.max_lifetime_ms > 0).then(|| {
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
            let jitter = (nanos % 1000) as f64 / 1000.0 * 0.025;
            Duration::from_millis((self.settings.max_lifetime_ms as f64 * (1.0 - jitter)) as u64)
        });
        let cancel = Arc::new(Canceller::new(&client, self.tls.clone()));
        Ok(Conn {
            client,
            cancel,
            cache: StatementCache::new(self.settings.statement_cache_size),
            described: StatementCache::new(DESCRIBED_CAPACITY),
            idle,
            serial,
            broken: false,
            session_changed: false,
            set_up_by_hook: false,
            uses: 0,
            idle_since: None,
            last_command: None,
            lifetime,
            address,
            generation: self.placement.generation(),
        })
    }

    /// Counts a failed connection attempt; an outage is logged once, when it begins (with its
    /// cause), and once when it ends (in [`Manager::open_on`]): the attempts between are in stats.
    fn attempt_failed(&self, err: Error) -> Error {
        Stats::bump(&self.stats.connections_failed);
        if err.is_too_many() {
            Stats::bump(&self.stats.refused_too_many);
        }
        // A read replica's outage is the probe's to announce (it leaves the rotation).
        if self.stats.outages.failed(err.code(), &err.message()) && !self.settings.is_replica {
            tracing::warn!(pool = self.id, "cannot open a connection: {err} (an outage begins: further failed attempts are counted in stats, not logged, until a connection opens)");
        } else {
            tracing::debug!(pool = self.id, "cannot open a connection: {err}");
        }
        err
    }

    /// One round trip (an empty query) to a connection that sat idle: a peer that a firewall or
    /// NAT dropped silently does not answer within connectTimeoutMs (5 s without one), and the
    /// connection is closed before any caller's statement meets it.
    async fn ping(&self, conn: &mut Conn) -> RecycleResult<Error> {
        let bound = Duration::from_millis(match self.settings.connect_timeout_ms {
            0 => 5_000,
            ms => ms,
        });
        match tokio::time::timeout(bound, conn.client.simple_query("")).await {
            Ok(Ok(_)) => Ok(()),
            _ => {
                conn.broken = true;
                tracing::debug!(pool = self.id, "closing an idle connection to {} that did not answer", conn.address);
                Err(RecycleError::message("did not answer after sitting idle"))
            }
        }
    }

    /// A cheap check with no round trip: the socket is open, the connection is not marked
    /// broken, and it has not outlived its lifetime.
    fn check(&self, conn: &Conn, metrics: &Metrics) -> RecycleResult<Error> {
        if conn.generation < self.placement.generation() {
            tracing::debug!(pool = self.id, "closing a connection to {} opened before a failover", conn.address);
            return Err(RecycleError::message("opened before a failover"));
        }
        // Given back inside a transaction and not rolled back (src/reset.rs does, before a
        // connection goes back): never handed to anyone.
        if conn.client.transaction_status() != tokio_postgres::TransactionStatus::Idle {
            tracing::debug!(pool = self.id, "closing a connection still inside a transaction");
            return Err(RecycleError::message("inside a transaction"));
        }
        if conn.broken || conn.client.is_closed() {
            tracing::debug!(pool = self.id, "discarding a closed or broken connection");
            return Err(RecycleError::message("connection closed"));
        }
        if conn.lifetime.is_some_and(|l| metrics.age() >= l) {
            tracing::debug!(pool = self.id, "replacing a connection that reached its max lifetime");
            return Err(RecycleError::message("connection reached its max lifetime"));
        }
        Ok(())
    }
}
