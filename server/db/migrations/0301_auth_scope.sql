-- Site scope of users and API keys: NULL sees every site; a list sees only those sites (a district).
ALTER TABLE users ADD COLUMN sites text[];
ALTER TABLE api_keys ADD COLUMN sites text[];
