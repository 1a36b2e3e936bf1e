//! The operator's typed admin functions (`keyway_server::admin`, the ones
//! the `admin` command calls) on a world's database, for synchronous code:
//! a store and a runtime to run each function to completion.

use std::path::{Path, PathBuf};

use keyway_api::Role;
use keyway_server::admin::{self, AdminResult, LockCreated, LockSpec, UserCreated};
use keyway_server::db::Store;

use crate::database::TestDb;
use crate::error::{KitError, KitResult};
use crate::property::{self, Plan, Property};

/// The admin functions in process, on one database.
pub struct Admin {
    runtime: tokio::runtime::Runtime,
    /// The database.
    pub store: Store,
    dir: PathBuf,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin").field("dir", &self.dir).finish()
    }
}

impl Admin {
    /// Opens `db` as a server started in `dir` does; provisioning files go
    /// to `dir`.
    pub fn open(dir: &Path, db: &TestDb) -> KitResult<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(KitError::Runtime)?;
        let store = runtime.block_on(db.open())?;
        Ok(Self {
            runtime,
            store,
            dir: dir.to_owned(),
        })
    }

    /// Runs an admin function (or any future) to completion.
    pub fn run<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Sets up Maple Court as `plan` says ([`property::set_up`]).
    pub fn set_up(&self, plan: &Plan) -> KitResult<Property> {
        self.run(property::set_up(&self.store, &self.dir, plan))
    }

    /// A property with the default policy and these affiliated numbers.
    pub fn property(
        &self,
        name: &str,
        time_zone: &str,
        affiliated: &[&str],
    ) -> AdminResult<String> {
        let spec = property::property_spec(name, time_zone, affiliated);
        Ok(self
            .run(admin::create_property(&self.store, &spec))?
            .property_id)
    }

    /// A lock, and the property's provisioning file `provisioning` (in the
    /// directory) written again.
    pub fn lock(
        &self,
        property: &str,
        spec: &LockSpec,
        provisioning: &str,
    ) -> AdminResult<LockCreated> {
        let created = self.run(admin::create_lock(&self.store, property, spec))?;
        let out = self.dir.join(provisioning);
        self.run(admin::write_provisioning(&self.store, property, &out))?;
        Ok(created)
    }

    /// A user with their first API token.
    pub fn user(
        &self,
        property: &str,
        name: &str,
        role: Role,
        unit: Option<&str>,
    ) -> AdminResult<UserCreated> {
        let spec = admin::UserSpec {
            name: name.to_owned(),
            role,
            unit: unit.map(str::to_owned),
            email: None,
        };
        self.run(admin::create_user(&self.store, property, &spec))
    }
}

impl Drop for Admin {
    fn drop(&mut self) {
        self.runtime.block_on(self.store.close());
    }
}
