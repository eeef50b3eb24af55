//! What every session shares: configuration, the authenticator, the data pool, the anonymous jail.

use crate::auth::Authenticator;
use crate::config::Config;
use crate::data_pool::DataPool;
use crate::jail::Jail;

/// Read-only state shared by all control threads of one listener set.
pub struct ServerContext {
    /// The configuration in force.
    pub config: Config,
    /// Login checks.
    pub auth: Authenticator,
    /// The data transfer workers.
    pub pool: DataPool,
    /// The anonymous root, opened once at startup (so it survives a later chroot).
    pub anon_jail: Option<Jail>,
}
