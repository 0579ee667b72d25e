-- title: Admin activity through a proxy or from a network new to the actor
-- description: An admin action (admin console, admin API, privilege or policy change) made through an anonymizing proxy, or flagged "New IP" by Okta, or from an ASN (else IP) the actor never used before. Replayed admin sessions of the 2023 Okta support breach looked exactly like this.
-- sources: okta cloudtrail google_workspace github
-- needs: okta:user.session.access_admin_app, okta:policy.evaluate_sign_on, okta:*
WITH e AS (
    SELECT *,
        CASE WHEN src_asn IS NOT NULL THEN 'AS' || CAST(src_asn AS VARCHAR) ELSE src_ip END AS net,
        lower(coalesce(json_extract_string(raw, '$.securityContext.isProxy'),
                       json_extract_string(raw, '$.securitycontext.isProxy'), '')) = 'true' AS proxy,
        regexp_matches(raw, 'New IP(=|\\?"\s*:\s*\\?")POSITIVE') AS okta_new_ip,
        lower(coalesce(json_extract_string(raw, '$.debugContext.debugData.requestUri'),
                       json_extract_string(raw, '$.debugcontext.debugData.requestUri'), '')) AS uri
    FROM events WHERE (src_ip IS NOT NULL OR src_asn IS NOT NULL)
      -- its sources only: text-line sources (sshd, web) have no JSON to read
      AND source IN ('okta', 'cloudtrail', 'google_workspace', 'github')
), f AS (
    SELECT *, min(time) OVER (PARTITION BY actor_name, net) AS first_net,
              min(time) OVER (PARTITION BY actor_name) AS first_any
    FROM e
)
SELECT time, source, event_type, outcome, actor_id, actor_name, credential_id, src_ip,
    target_name, origin,
    concat_ws('; ',
        CASE WHEN proxy THEN 'through an anonymizing proxy' END,
        CASE WHEN okta_new_ip THEN 'Okta behaviour: New IP' END,
        CASE WHEN first_net = time AND first_any < time
             THEN 'first use of ' || net || ' by this actor' END) AS why
FROM f
WHERE (proxy OR okta_new_ip OR (first_net = time AND first_any < time))
  AND (uri LIKE '%admin%' OR regexp_matches(uri, '^/api/v1/(users/[^/]+/lifecycle|groups|apps|policies|authorizationservers|idps|roles|iam)')
       OR lower(coalesce(target_name, '')) LIKE '%admin%'
       OR regexp_matches(event_type, '^(user\.account\.privilege|group\.privilege|system\.|application\.lifecycle|policy\.lifecycle|user\.session\.access_admin_app|zone\.)')
       OR event_type IN ('CreateAccessKey', 'CreateUser', 'AttachUserPolicy', 'AttachRolePolicy',
                         'PutUserPolicy', 'CreateLoginProfile', 'UpdateLoginProfile', 'ASSIGN_ROLE',
                         'org.update_member', 'org.add_member'))
