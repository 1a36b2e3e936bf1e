-- The shared doors of a property (what every resident's sync reads), as a
-- partial index: its predicate is the very list the query names, so even
-- PostgreSQL's generic plan for the prepared statement picks it instead of
-- walking every lock of the property (docs/performance.md).
CREATE INDEX locks_shared_sync ON locks (property_id, change_seq)
    WHERE access_point IN ('community_entrance', 'amenity', 'package_room');
