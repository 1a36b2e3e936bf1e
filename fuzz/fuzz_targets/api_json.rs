//! The server's request parsing without the server: arbitrary bytes as the
//! JSON body of every API request type in `keyway_api` (and the
//! responses the phone parses), and as the query string of every endpoint
//! that takes one, through axum's own `Query` extractor. Nothing panics, and
//! whatever parses serialises to JSON that parses back to the same value.

#![no_main]

use axum::extract::Query;
use axum::http::Uri;
use keyway_api::{
    CreateCarrierRequest, CreateCodeRequest, CreateCourierRequest, CreateRecipientRequest,
    ForgotPinRequest, KeyCardRequest, LoginRequest, OneTimePinRequest, PolicySettings,
    ReceiptBatch, SetCodeRequest, SyncResponse, decode_bytes,
};
use keyway_server::api::couriers::QrQuery;
use keyway_server::api::locks::AuditQuery;
use keyway_server::api::sync::SyncQuery;
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T>(data: &[u8])
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        let text = serde_json::to_string(&value).expect("a parsed value serialises");
        let again: T = serde_json::from_str(&text).expect("serialised JSON parses back");
        assert_eq!(again, value);
    }
}

fn query<T: DeserializeOwned>(path: &str, query: &str) {
    if let Ok(uri) = format!("{path}?{query}").parse::<Uri>() {
        let _ = Query::<T>::try_from_uri(&uri);
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<LoginRequest>(data);
    round_trip::<CreateCodeRequest>(data);
    round_trip::<SetCodeRequest>(data);
    round_trip::<ReceiptBatch>(data);
    round_trip::<PolicySettings>(data);
    round_trip::<CreateCarrierRequest>(data);
    round_trip::<CreateCourierRequest>(data);
    round_trip::<KeyCardRequest>(data);
    round_trip::<CreateRecipientRequest>(data);
    round_trip::<OneTimePinRequest>(data);
    round_trip::<ForgotPinRequest>(data);
    round_trip::<SyncResponse>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decode_bytes(text);
        query::<SyncQuery>("/v1/sync", text);
        query::<AuditQuery>("/v1/locks/x/audit", text);
        query::<QrQuery>("/v1/manage/couriers/x/qr", text);
    }
});
