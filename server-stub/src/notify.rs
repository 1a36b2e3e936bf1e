//! Notifications: a transactional outbox (rows written in the same transaction
//! as the PIN they announce, recipient and body encrypted at rest) and a worker
//! that delivers them with retries and exponential backoff. Senders: a delivery
//! log (JSON lines, the default), SMTP (feature `smtp`) and an HTTP SMS gateway
//! (feature `sms`). A PIN is only ever in the body of the message to its own
//! recipient; log lines name the message id and channel, never the address or
//! the body.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::clock::now_secs;
use crate::crypto::{Cell, new_id};
use crate::db::outbox::{self, NewMessage};
use crate::db::{Store, Write};
use crate::error::Result;

/// How notifications are sent.
#[derive(Debug, Clone, Args)]
pub struct NotifySettings {
    /// Email sender: `log` (append to the delivery log) or `smtp`.
    #[arg(long, env = "KEYWAY_EMAIL_SENDER", default_value = "log")]
    pub email_sender: String,
    /// SMS sender: `log` or `http` (an SMS gateway).
    #[arg(long, env = "KEYWAY_SMS_SENDER", default_value = "log")]
    pub sms_sender: String,
    /// The delivery log (JSON lines) of the `log` senders.
    #[arg(
        long,
        env = "KEYWAY_DELIVERY_LOG",
        default_value = "keyway-deliveries.jsonl"
    )]
    pub delivery_log: PathBuf,
    /// SMTP server URL for `smtp`: `smtps://user:pass@host:465` (TLS),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS), or plain
    /// `smtp://host:25` for a relay on a trusted network.
    #[arg(long, env = "KEYWAY_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The From address of emails.
    #[arg(
        long,
        env = "KEYWAY_EMAIL_FROM",
        default_value = "Keyway <no-reply@keyway.invalid>"
    )]
    pub email_from: String,
    /// SMS gateway endpoint for `http`: the server POSTs `{"to", "message"}` JSON.
    #[arg(long, env = "KEYWAY_SMS_GATEWAY_URL")]
    pub sms_gateway_url: Option<String>,
    /// Bearer token for the SMS gateway.
    #[arg(long, env = "KEYWAY_SMS_GATEWAY_TOKEN", hide_env_values = true)]
    pub sms_gateway_token: Option<String>,
    /// How often the worker looks for due messages, in milliseconds.
    #[arg(long, env = "KEYWAY_NOTIFY_INTERVAL_MS", default_value_t = 1000)]
    pub notify_interval_ms: u64,
    /// Attempts before a message is given up.
    #[arg(long, env = "KEYWAY_NOTIFY_MAX_ATTEMPTS", default_value_t = 8)]
    pub notify_max_attempts: i64,
    /// First retry delay in seconds; doubles each attempt (at most an hour).
    #[arg(long, env = "KEYWAY_NOTIFY_BACKOFF_SECS", default_value_t = 5)]
    pub notify_backoff_secs: i64,
}

/// One message to deliver.
#[derive(Debug, Clone)]
pub struct Message {
    /// `email` or `sms`.
    pub channel: String,
    /// Address or phone number.
    pub to: String,
    /// Subject (email).
    pub subject: String,
    /// Body.
    pub body: String,
}

/// Queues a message in the outbox, in the write that issues what it
/// announces.
pub async fn enqueue(w: &mut Write, message: &Message) -> Result<()> {
    let key = w.key().clone();
    let id = new_id("msg");
    let row = NewMessage {
        recipient: key.seal_str(Cell::new("outbox", "recipient", &id), &message.to)?,
        body: key.seal_str(Cell::new("outbox", "body", &id), &message.body)?,
        property_id: w.property_id().to_owned(),
        channel: message.channel.clone(),
        subject: message.subject.clone(),
        created_at: now_secs(),
        id,
    };
    crate::db::insert(w, &[row]).await
}

/// A way to send one channel's messages.
pub enum ChannelSender {
    /// Append to the delivery log.
    Log(PathBuf),
    /// SMTP.
    #[cfg(feature = "smtp")]
    Smtp {
        /// The transport.
        transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
        /// From.
        from: lettre::message::Mailbox,
    },
    /// HTTP SMS gateway.
    #[cfg(feature = "sms")]
    Http {
        /// Client.
        client: reqwest::Client,
        /// Endpoint.
        url: String,
        /// Bearer token.
        token: Option<String>,
    },
}

/// Why the senders could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    /// A setting a sender needs is missing.
    #[error("{0} is required with the {1} sender")]
    Missing(&'static str, &'static str),
    /// A setting is malformed.
    #[error("bad {0}: {1}")]
    Bad(&'static str, String),
    /// The sender named is not one this server has.
    #[error("unknown {0} sender `{1}` ({2})")]
    Unknown(&'static str, String, &'static str),
}

/// Why one message could not be delivered (stored with it, without the
/// recipient's address).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The delivery log could not be written.
    #[error("delivery log: {0}")]
    Log(std::io::Error),
    /// The recipient's address is not valid.
    #[error("the recipient address is not valid")]
    BadAddress,
    /// The message could not be built or sent.
    #[error("{0}")]
    Send(String),
}

/// The senders for email and SMS.
pub struct Sender {
    email: ChannelSender,
    sms: ChannelSender,
}

impl Sender {
    /// Builds the senders the settings name.
    pub fn from_settings(s: &NotifySettings) -> Result<Self, SenderError> {
        let email = match s.email_sender.as_str() {
            "log" => ChannelSender::Log(s.delivery_log.clone()),
            #[cfg(feature = "smtp")]
            "smtp" => {
                let url = s
                    .smtp_url
                    .as_deref()
                    .ok_or(SenderError::Missing("KEYWAY_SMTP_URL", "smtp email"))?;
                let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
                    .map_err(|e| SenderError::Bad("SMTP URL", e.to_string()))?
                    .timeout(Some(Duration::from_secs(20)))
                    .build();
                let from = s
                    .email_from
                    .parse()
                    .map_err(|e: lettre::address::AddressError| {
                        SenderError::Bad("email From address", e.to_string())
                    })?;
                ChannelSender::Smtp { transport, from }
            }
            other => {
                return Err(SenderError::Unknown(
                    "email",
                    other.to_owned(),
                    "log or smtp",
                ));
            }
        };
        let sms = match s.sms_sender.as_str() {
            "log" => ChannelSender::Log(s.delivery_log.clone()),
            #[cfg(feature = "sms")]
            "http" => {
                let url = s
                    .sms_gateway_url
                    .clone()
                    .ok_or(SenderError::Missing("KEYWAY_SMS_GATEWAY_URL", "http SMS"))?;
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(20))
                    .build()
                    .map_err(|e| SenderError::Bad("SMS gateway client", e.to_string()))?;
                ChannelSender::Http {
                    client,
                    url,
                    token: s.sms_gateway_token.clone(),
                }
            }
            other => return Err(SenderError::Unknown("SMS", other.to_owned(), "log or http")),
        };
        Ok(Self { email, sms })
    }

    async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let sender = if message.channel == "sms" {
            &self.sms
        } else {
            &self.email
        };
        match sender {
            ChannelSender::Log(path) => append_log(path, message).await,
            #[cfg(feature = "smtp")]
            ChannelSender::Smtp { transport, from } => {
                use lettre::AsyncTransport as _;
                let to = message.to.parse().map_err(|_| DeliveryError::BadAddress)?;
                let email = lettre::Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(message.subject.clone())
                    .body(message.body.clone())
                    .map_err(|e| DeliveryError::Send(e.to_string()))?;
                transport
                    .send(email)
                    .await
                    .map(|_| ())
                    .map_err(|e| DeliveryError::Send(format!("SMTP: {e}")))
            }
            #[cfg(feature = "sms")]
            ChannelSender::Http { client, url, token } => {
                let mut request = client.post(url).json(&serde_json::json!({
                    "to": message.to,
                    "message": message.body,
                }));
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                let response = request.send().await.map_err(|e| {
                    DeliveryError::Send(format!("SMS gateway unreachable: {}", e.without_url()))
                })?;
                if response.status().is_success() {
                    Ok(())
                } else {
                    Err(DeliveryError::Send(format!(
                        "SMS gateway answered {}",
                        response.status()
                    )))
                }
            }
        }
    }
}

async fn append_log(path: &PathBuf, message: &Message) -> Result<(), DeliveryError> {
    use tokio::io::AsyncWriteExt as _;
    let line = serde_json::json!({
        "at": jiff::Timestamp::now().to_string(),
        "channel": message.channel,
        "to": message.to,
        "subject": message.subject,
        "body": message.body,
    })
    .to_string();
    let mut options = tokio::fs::OpenOptions::new();
    options.create(true).append(true);
    // The log holds PINs and addresses: its owner's alone, also when it was
    // there before with wider permissions.
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).await.map_err(DeliveryError::Log)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let metadata = file.metadata().await.map_err(DeliveryError::Log)?;
        if metadata.permissions().mode() & 0o777 != 0o600 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .await
                .map_err(DeliveryError::Log)?;
        }
    }
    file.write_all(format!("{line}\n").as_bytes())
        .await
        .map_err(DeliveryError::Log)
}

/// Delivers due messages until `stop` turns true.
pub async fn run_worker(
    store: Store,
    sender: Sender,
    settings: NotifySettings,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let interval = Duration::from_millis(settings.notify_interval_ms.max(50));
    loop {
        match deliver_due(&store, &sender, &settings).await {
            Ok(n) if n > 0 => log::debug!("delivered {n} notification(s)"),
            Ok(_) => {}
            Err(e) => log::warn!("notification worker: {}", e.detail),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {},
            _ = stop.changed() => return,
        }
    }
}

/// One pass: claims due messages (a lease, so several instances never send
/// one twice at once), sends them, records the outcome.
pub async fn deliver_due(store: &Store, sender: &Sender, s: &NotifySettings) -> Result<usize> {
    let mut read = store.read().await?;
    let claimed = outbox::claim_due(&mut read, now_secs(), 120).await?;
    let key = read.key().clone();
    let mut sent = 0;
    for (id, channel, to, subject, body, attempts) in claimed {
        let message = Message {
            channel: channel.clone(),
            to: key.open_str(Cell::new("outbox", "recipient", &id), &to)?,
            subject,
            body: key.open_str(Cell::new("outbox", "body", &id), &body)?,
        };
        match sender.send(&message).await {
            Ok(()) => {
                outbox::mark_sent(&mut read, &id, now_secs()).await?;
                log::info!("notification {id} sent by {channel}");
                sent += 1;
            }
            Err(error) => {
                // A server's refusal may quote the address: keep it out of
                // the log line and the stored error.
                let error = error.to_string().replace(&message.to, "<recipient>");
                let give_up = attempts >= s.notify_max_attempts;
                let delay = (s.notify_backoff_secs.max(1) << (attempts - 1).clamp(0, 20)).min(3600);
                outbox::mark_failed(&mut read, &id, give_up, now_secs() + delay, &error).await?;
                log::warn!(
                    "notification {id} by {channel} failed (attempt {attempts}): {error}{}",
                    if give_up { "; giving up" } else { "" }
                );
            }
        }
    }
    Ok(sent)
}
