-- Indexes for the weekly digest's reads of reflections (issue 22: one week's two digests with
-- exports in under a second at 1,100 schools). Without them each of these scanned every
-- reflection of the programme (514,800 in the bench's year), three times per compilation:
--   the prompts delivered in the trend weeks   (storage/digest_sources.py `deliveries`)
--   the week's answered reflections             (`reflections`; also the weekly count)
--   each trio's last answered reflection        (`last_activity`, per member)
-- They hold no person's data beyond what the reflection row holds (erased with it).
CREATE INDEX reflection_delivered ON reflection(delivered_at);
CREATE INDEX reflection_answered ON reflection(status, answered_at);
CREATE INDEX reflection_person_answered ON reflection(person_id, status, answered_at);
