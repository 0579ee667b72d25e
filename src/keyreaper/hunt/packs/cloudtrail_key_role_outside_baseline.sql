-- title: CloudTrail CreateAccessKey or AssumeRole outside the principal's baseline
-- description: A principal creates an access key, assumes a role or gets session tokens for the first time, or from a network it never used for that call before, while it has earlier history (its baseline).
-- sources: cloudtrail
-- needs: cloudtrail:CreateAccessKey, cloudtrail:AssumeRole
WITH e AS (
    SELECT *, CASE WHEN src_asn IS NOT NULL THEN 'AS' || CAST(src_asn AS VARCHAR) ELSE src_ip END AS net,
        coalesce(actor_name, actor_id, credential_id) AS who
    FROM events WHERE source = 'cloudtrail'
), f AS (
    SELECT *, min(time) OVER (PARTITION BY who) AS first_any,
              min(time) OVER (PARTITION BY who, event_type) AS first_call,
              min(time) OVER (PARTITION BY who, event_type, net) AS first_call_net
    FROM e
)
SELECT time, source, event_type, outcome, actor_id, actor_name, credential_id, src_ip,
    target_name, origin,
    CASE WHEN first_call = time THEN 'first ' || event_type || ' by this principal'
         ELSE 'first ' || event_type || ' from ' || coalesce(net, '?') || ' by this principal' END AS why
FROM f
WHERE event_type IN ('CreateAccessKey', 'AssumeRole', 'AssumeRoleWithSAML', 'AssumeRoleWithWebIdentity',
                     'GetSessionToken', 'GetFederationToken', 'CreateLoginProfile')
  AND first_any < time AND (first_call = time OR first_call_net = time)
