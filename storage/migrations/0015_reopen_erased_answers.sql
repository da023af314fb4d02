-- The partnership loop (0013): a question is 'answered' while an answer to it exists. Erasing
-- a researcher deletes their answers (erasure_rule research_reply.author_id 'delete'); a
-- question whose only answer went that way was left 'answered' with nothing answering it,
-- so /questions never offered it again and the digests (which count from the answers) called
-- it open. It is open again now, for another researcher to take.
CREATE TRIGGER research_reply_answer_gone AFTER DELETE ON research_reply
WHEN OLD.kind = 'answer'
BEGIN
    UPDATE research_question SET status = 'open'
    WHERE id = OLD.question_id AND status = 'answered'
      AND NOT EXISTS (SELECT 1 FROM research_reply r
                      WHERE r.question_id = OLD.question_id AND r.kind = 'answer');
END;
