-- A person's email address, from the people file's optional `email` column: the
-- coordinator's way to reach someone before they have joined (`triobot invite batch` writes
-- it beside their invite link, for a mail merge). It is shown nowhere in Telegram.
ALTER TABLE person ADD COLUMN email TEXT;

-- Erasure empties every column of the person row anyway (storage/personal_data.py); the rule
-- says so here, beside the column, and the person's download shows the address held.
INSERT INTO erasure_rule (table_name, column_name, how, where_sql)
VALUES ('person', 'email', 'null', 'id = :person_id');
INSERT INTO export_section (name, query)
VALUES ('contact', 'SELECT email FROM person WHERE id = :person_id AND email IS NOT NULL');
