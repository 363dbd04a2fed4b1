-- Which embedder made the knowledge store's vectors (its model id): two models of the same
-- width make vectors that cannot be compared, so a store refuses another one. NULL on a
-- store made before this column: the next embedder to open it is adopted.
ALTER TABLE kb_settings ADD COLUMN embedder TEXT;
