-- title: sshd first login with a key from a new IP
-- description: A successful public-key login where this key, for this account, has never come from this IP before, while the account has earlier logins.
-- sources: sshd
-- needs: sshd:*
WITH e AS (
    SELECT *, coalesce(actor_name, actor_id) AS who FROM events
    WHERE source = 'sshd' AND outcome = 'success' AND credential_id IS NOT NULL
), f AS (
    SELECT *, min(time) OVER (PARTITION BY who) AS first_any,
              min(time) OVER (PARTITION BY who, credential_id, src_ip) AS first_key_ip,
              min(time) OVER (PARTITION BY who, credential_id) AS first_key
    FROM e
)
SELECT time, source, event_type, outcome, actor_id, actor_name, credential_id, src_ip,
    target_name, origin,
    CASE WHEN first_key = time THEN 'first login with key ' || credential_id
         ELSE 'key ' || credential_id || ' first used from ' || src_ip END AS why
FROM f WHERE first_any < time AND first_key_ip = time
