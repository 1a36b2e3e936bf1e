-- Key cards on locks (docs/lock-protocol.md, "Job body"): a courier's key
-- card is a placement of the courier's PIN, on the locks the PIN is on, in a
-- slot of its own. `credential` says what the placement puts in its slot:
-- `code` (`value` holds the digits, as before) or `card` (`value` holds the
-- card key, 32 hex digits: the lock never learns the card's id). Sealed for
-- its cell either way.
ALTER TABLE placements ADD COLUMN credential TEXT NOT NULL DEFAULT 'code';
