-- How the hub calls a service: plain HTTP or MCP (Streamable HTTP).
ALTER TABLE hub_services ADD COLUMN protocol TEXT NOT NULL DEFAULT 'http'
    CHECK (protocol IN ('http', 'mcp'));
