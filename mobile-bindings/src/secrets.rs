//! The secret-store seam for apps: a foreign `SecretStore` an app implements
//! on its platform's key store (Android: a Keystore key wrapping the secret;
//! iOS: the Keychain), adapted onto the core's `SecretStore`. The client keeps
//! the device token there instead of in its database. Apps that pass none get
//! the core's file-backed default in the data directory. Whatever the app's
//! implementation throws becomes `SecretStoreFailure` and then
//! `KeywayError::SecretStore` (`secret_store`): never a panic.

use std::sync::Arc;

use keyway_client::SecretStoreError;

/// Why the app's secret store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum SecretStoreFailure {
    /// The store cannot be used now: the device is locked, the user must
    /// authenticate, the key was invalidated.
    #[error("{detail}")]
    Unavailable {
        /// What the platform said (never the secret).
        detail: String,
    },
    /// Anything else (an exception the implementation did not declare lands
    /// here too).
    #[error("{detail}")]
    Other {
        /// What the platform said (never the secret).
        detail: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for SecretStoreFailure {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Other { detail: e.reason }
    }
}

impl From<SecretStoreFailure> for SecretStoreError {
    fn from(failure: SecretStoreFailure) -> Self {
        match failure {
            SecretStoreFailure::Unavailable { detail } => {
                SecretStoreError::new(format!("unavailable: {detail}"))
            }
            SecretStoreFailure::Other { detail } => SecretStoreError::new(detail),
        }
    }
}

/// Implemented by the app on its platform's key store: named secrets (today
/// one, `device_token`) that must not live in the app's files in the clear.
/// Android: encrypt with an AES-GCM key of the Android Keystore and keep the
/// ciphertext in the app's private storage; iOS: a Keychain generic password
/// (see docs/bindings.md). Calls are short and synchronous, on a library
/// thread; throw `SecretStoreFailure` when the store cannot answer.
#[uniffi::export(foreign)]
pub trait SecretStore: Send + Sync {
    /// The secret named `name`, or `null`/`nil`/`None` when there is none.
    fn get(&self, name: String) -> Result<Option<Vec<u8>>, SecretStoreFailure>;

    /// Stores `value` under `name`, replacing any previous one.
    fn set(&self, name: String, value: Vec<u8>) -> Result<(), SecretStoreFailure>;

    /// Forgets the secret named `name`; forgetting a missing one is not an
    /// error.
    fn delete(&self, name: String) -> Result<(), SecretStoreFailure>;
}

/// The app's secret store, as the core sees it.
pub(crate) struct ForeignSecretStore(pub(crate) Arc<dyn SecretStore>);

impl keyway_client::SecretStore for ForeignSecretStore {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, SecretStoreError> {
        Ok(self.0.get(name.to_owned())?)
    }

    fn set(&self, name: &str, value: &[u8]) -> Result<(), SecretStoreError> {
        Ok(self.0.set(name.to_owned(), value.to_vec())?)
    }

    fn delete(&self, name: &str) -> Result<(), SecretStoreError> {
        Ok(self.0.delete(name.to_owned())?)
    }
}
