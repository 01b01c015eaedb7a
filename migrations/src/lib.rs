//! tessera-migration: the schema, one sea-orm migration per change. A landed migration is never
//! edited; a change to the schema is a new file. The same statements serve SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_schema;
mod m20261123_000002_add_refresh_policy;
mod m20261203_000003_sign_in_safety;
mod m20261203_000004_scopes;
mod m20261203_000005_instances;
mod m20261203_000006_signing_keys;
mod m20261207_000007_client_requires_par;
mod m20261207_000008_device_authorizations;
mod m20261207_000009_resource_servers;
mod m20261207_000010_dpop;
mod m20261207_000011_second_factors;
mod m20261207_000012_known_devices;
mod m20261207_000013_email_links;
mod m20261208_000014_passkeys;
mod m20261209_000015_activity;
mod m20261210_000016_list_indexes;

/// The ordered list of every migration.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_schema::Migration),
            Box::new(m20261123_000002_add_refresh_policy::Migration),
            Box::new(m20261203_000003_sign_in_safety::Migration),
            Box::new(m20261203_000004_scopes::Migration),
            Box::new(m20261203_000005_instances::Migration),
            Box::new(m20261203_000006_signing_keys::Migration),
            Box::new(m20261207_000007_client_requires_par::Migration),
            Box::new(m20261207_000008_device_authorizations::Migration),
            Box::new(m20261207_000009_resource_servers::Migration),
            Box::new(m20261207_000010_dpop::Migration),
            Box::new(m20261207_000011_second_factors::Migration),
            Box::new(m20261207_000012_known_devices::Migration),
            Box::new(m20261207_000013_email_links::Migration),
            Box::new(m20261208_000014_passkeys::Migration),
            Box::new(m20261209_000015_activity::Migration),
            Box::new(m20261210_000016_list_indexes::Migration),
        ]
    }
}
