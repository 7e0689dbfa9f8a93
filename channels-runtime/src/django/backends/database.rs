//! Django's PostgreSQL tables, read-only: `django_session` (the `db` and `cached_db` engines) and the user
//! table (the session auth hash check). One connection, made on first use and made again once closed.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OnceCell};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Statement};

use crate::django::config::{DjangoSettings, UserModelSettings};
use crate::django::error::DjangoError;

/// A user row, as much of it as `get_user` looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserRow {
    /// `password` (the hash the session auth hash is an HMAC of).
    pub password: String,
    /// `is_active` (`ModelBackend` refuses inactive users); `true` when the table has no such column.
    pub is_active: bool,
}

/// The statement that reads a user by primary key, and how to bind the key Django's session holds as
/// text (`_auth_user_id` is `pk.value_to_string()`).
#[derive(Debug)]
struct UserQuery {
    statement: Statement,
    key: KeyKind,
    has_is_active: bool,
}

#[derive(Debug, Clone, Copy)]
enum KeyKind {
    Int2,
    Int4,
    Int8,
    Text,
    /// Another type (uuid, ...): compared as text, as Django's session holds it.
    Cast,
}

struct Connection {
    client: Client,
    user_query: OnceCell<UserQuery>,
}

/// The `DATABASES` connection.
pub(crate) struct Database {
    config: tokio_postgres::Config,
    user_model: UserModelSettings,
    timeout: Duration,
    connection: Mutex<Option<Arc<Connection>>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("dbname", &self.config.get_dbname())
            .field("hosts", &self.config.get_hosts())
            .field("user_model", &self.user_model)
            .finish()
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Database {
    /// `None` when `DATABASES` is not set. Connects on first use.
    pub(crate) fn from_settings(settings: &DjangoSettings) -> Option<Database> {
        let databases = settings.databases.as_ref()?;
        Some(Database {
            config: databases.pg_config(settings.connection_time_zone(), settings.backend_timeout),
            user_model: settings.auth_user_model.clone(),
            timeout: settings.backend_timeout,
            connection: Mutex::new(None),
        })
    }

    /// Runs `call` within the timeout; a timeout or a closed connection drops the connection so the
    /// next call connects afresh.
    async fn bounded<T, F>(&self, call: F) -> Result<T, DjangoError>
    where
        F: std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                if error.is_closed() {
                    self.connection.lock().await.take();
                }
                Err(DjangoError::Database(error))
            }
            Err(_) => {
                self.connection.lock().await.take();
                Err(DjangoError::Timeout {
                    what: "database",
                    after: self.timeout,
                })
            }
        }
    }

    /// The shared connection, and whether it was made just now.
    async fn connection(&self) -> Result<(Arc<Connection>, bool), DjangoError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref().filter(|c| !c.client.is_closed()) {
            return Ok((connection.clone(), false));
        }
        let connect = self.config.connect(NoTls);
        let (client, driver) = match tokio::time::timeout(self.timeout, connect).await {
            Ok(result) => result.map_err(DjangoError::Database)?,
            Err(_) => {
                return Err(DjangoError::Timeout {
                    what: "database",
                    after: self.timeout,
                });
            }
        };
        tokio::spawn(async move {
            if let Err(error) = driver.await {
                tracing::warn!(%error, "the Django session database connection closed");
            }
        });
        let connection = Arc::new(Connection {
            client,
            user_query: OnceCell::new(),
        });
        *slot = Some(connection.clone());
        Ok((connection, true))
    }

    /// Runs `query` on the shared connection; when PostgreSQL closed a connection made earlier (a
    /// restart, an idle timeout, `pg_terminate_backend`), once more on a new one.
    async fn with_connection<T, F, Fut>(&self, query: F) -> Result<T, DjangoError>
    where
        F: Fn(Arc<Connection>) -> Fut,
        Fut: std::future::Future<Output = Result<T, DjangoError>>,
    {
        loop {
            let (connection, fresh) = self.connection().await?;
            match query(connection).await {
                Err(DjangoError::Database(error)) if error.is_closed() && !fresh => {
                    tracing::debug!(%error, "session database connection closed; reconnecting");
                }
                other => return other,
            }
        }
    }

    /// `session_data` of the unexpired row of `django_session` with this key (Django's
    /// `_get_session_from_db`: `expire_date > now()`).
    pub(crate) async fn session_data(
        &self,
        session_key: &str,
    ) -> Result<Option<String>, DjangoError> {
        self.with_connection(|connection| async move {
            let row = self
                .bounded(connection.client.query_opt(
                    "SELECT session_data FROM django_session \
                     WHERE session_key = $1 AND expire_date > now()",
                    &[&session_key],
                ))
                .await?;
            row.map(|row| row.try_get(0))
                .transpose()
                .map_err(DjangoError::Database)
        })
        .await
    }

    /// The user whose primary key is `id` (as text), if any.
    pub(crate) async fn user(&self, id: &str) -> Result<Option<UserRow>, DjangoError> {
        self.with_connection(|connection| async move { self.user_on(&connection, id).await })
            .await
    }

    async fn user_on(
        &self,
        connection: &Connection,
        id: &str,
    ) -> Result<Option<UserRow>, DjangoError> {
        let query = connection
            .user_query
            .get_or_try_init(|| async {
                self.bounded(self.prepare_user_query(&connection.client))
                    .await
                    .and_then(|prepared| prepared)
            })
            .await?;
        let key: Box<dyn ToSql + Sync + Send> = match query.key {
            KeyKind::Int2 => match id.parse::<i16>() {
                Ok(id) => Box::new(id),
                Err(_) => return Ok(None),
            },
            KeyKind::Int4 => match id.parse::<i32>() {
                Ok(id) => Box::new(id),
                Err(_) => return Ok(None),
            },
            KeyKind::Int8 => match id.parse::<i64>() {
                Ok(id) => Box::new(id),
                Err(_) => return Ok(None),
            },
            KeyKind::Text | KeyKind::Cast => Box::new(id.to_owned()),
        };
        let row = self
            .bounded(
                connection
                    .client
                    .query_opt(&query.statement, &[key.as_ref()]),
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let is_active = if query.has_is_active {
            row.try_get(1).map_err(DjangoError::Database)?
        } else {
            true
        };
        Ok(Some(UserRow {
            password: row.try_get(0).map_err(DjangoError::Database)?,
            is_active,
        }))
    }

    /// Looks at the user table once per connection: its key's type and whether it has `is_active`.
    async fn prepare_user_query(
        &self,
        client: &Client,
    ) -> Result<Result<UserQuery, DjangoError>, tokio_postgres::Error> {
        let table = quote_ident(&self.user_model.db_table);
        let pk = quote_ident(&self.user_model.pk_column);
        let probe = client
            .prepare(&format!("SELECT * FROM {table} WHERE {pk} = $1"))
            .await?;
        let column = |name: &str| probe.columns().iter().any(|c| c.name() == name);
        if !column("password") {
            return Ok(Err(DjangoError::UserTable {
                table: self.user_model.db_table.clone(),
                column: "password",
            }));
        }
        let has_is_active = column("is_active");
        let fields = if has_is_active {
            "password, is_active"
        } else {
            "password"
        };
        let key = match *probe.params().first().unwrap_or(&Type::TEXT) {
            Type::INT2 => KeyKind::Int2,
            Type::INT4 => KeyKind::Int4,
            Type::INT8 => KeyKind::Int8,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR => KeyKind::Text,
            _ => KeyKind::Cast,
        };
        let sql = match key {
            KeyKind::Cast => format!("SELECT {fields} FROM {table} WHERE {pk}::text = $1"),
            _ => format!("SELECT {fields} FROM {table} WHERE {pk} = $1"),
        };
        let statement = client.prepare(&sql).await?;
        Ok(Ok(UserQuery {
            statement,
            key,
            has_is_active,
        }))
    }
}
