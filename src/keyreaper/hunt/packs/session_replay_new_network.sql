-- title: Session replayed from a new IP or ASN
-- description: One session id used from a network other than the one it started on: a stolen cookie or token (such as those in the HAR files of the 2023 Okta breach) replayed by someone else.
-- sources: okta cloudflare_access google_workspace web
-- needs: okta:user.session.start, okta:*
WITH e AS (
    SELECT *, CASE WHEN src_asn IS NOT NULL THEN 'AS' || CAST(src_asn AS VARCHAR) ELSE src_ip END AS net
    FROM events WHERE session_id IS NOT NULL AND src_ip IS NOT NULL
), f AS (
    SELECT *, first_value(net) OVER (PARTITION BY session_id ORDER BY time) AS first_net,
              first_value(src_ip) OVER (PARTITION BY session_id ORDER BY time) AS first_ip
    FROM e
)
SELECT time, source, event_type, outcome, actor_id, actor_name, credential_id, src_ip,
    target_name, origin,
    'session ' || session_id || ' began from ' || first_ip || ' (' || first_net || '), now from '
        || src_ip || ' (' || net || ')' AS why
FROM f WHERE net <> first_net
QUALIFY row_number() OVER (PARTITION BY session_id, net ORDER BY time) = 1
