//! Smoke: btleplug finds a simulated lock and delivers one job.
use std::sync::Arc;
use std::time::Duration;

use keyway_ble_sim::harness::{self, Harness};
use keyway_ble_sim::radio::RadioConfig;
use keyway_core::delivery::{DeliveryConfig, DeliveryEngine, LockJobs, LockTransport};
use keyway_core::protocol::{BaseVersion, Job, JobId, LockKeys, Op};

rusty_fork::rusty_fork_test! {
    #![rusty_fork(timeout_ms = 60000)]
    #[test]
    fn smoke() {
        let bus = harness::system_bus().unwrap();
        harness::runtime().unwrap().block_on(async move {
            let lock = harness::test_lock("Unit 1", true);
            let id = lock.lock_id;
            let config = harness::test_config(vec![(lock.clone(), 2.0)], RadioConfig::default());
            let h = Harness::start(bus.address(), &config).await.unwrap();
            let transport = Arc::new(h.transport().await.unwrap());
            let seen = transport.scan(Duration::from_millis(200)).await.unwrap();
            println!("{seen:?}");
            assert_eq!(seen.len(), 1);
            let engine = DeliveryEngine::new(transport, DeliveryConfig { scan_time: Duration::from_millis(100), ..Default::default() });
            let job = Job { job_id: JobId::random(), base: BaseVersion::Exact(0), target: 1, issued_at: harness::test_epoch(), expires_at: harness::test_epoch() + jiff::SignedDuration::from_hours(24), audit_ack: 0, ops: vec![Op::Remove { slot: 1 }] };
            let sealed = LockKeys::derive(&lock.root_key, id).seal_job(&job).unwrap();
            let reports = engine.deliver_all(&[LockJobs { lock_id: id, target_version: 1, jobs: vec![sealed] }]).await.unwrap();
            println!("{reports:?}");
            assert_eq!(reports[0].outcome.code(), "delivered");
            assert_eq!(h.sim.lock(&id.to_string()).unwrap().version, 1);
        });
    }
}
