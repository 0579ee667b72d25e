-- title: Impossible travel of a session or actor
-- description: Two consecutive events of one session (else one actor) whose geolocations (Okta's client.geographicalContext) are further apart than 900 km/h allows.
-- sources: okta
-- needs: okta:user.session.start, okta:*
WITH e AS (
    SELECT *, coalesce(session_id, actor_name) AS who,
        TRY_CAST(coalesce(json_extract_string(raw, '$.client.geographicalContext.geolocation.lat'),
                          json_extract_string(raw, '$.client.geographicalcontext.geolocation.lat')) AS DOUBLE) AS lat,
        TRY_CAST(coalesce(json_extract_string(raw, '$.client.geographicalContext.geolocation.lon'),
                          json_extract_string(raw, '$.client.geographicalcontext.geolocation.lon')) AS DOUBLE) AS lon
    FROM events WHERE source = 'okta'  -- the only source with geolocation; others may not be JSON
), g AS (
    SELECT *, lag(lat) OVER w AS plat, lag(lon) OVER w AS plon, lag(time) OVER w AS ptime,
              lag(src_ip) OVER w AS pip
    FROM e WHERE lat IS NOT NULL AND lon IS NOT NULL AND who IS NOT NULL
    WINDOW w AS (PARTITION BY who ORDER BY time)
), d AS (
    SELECT *, 2 * 6371 * asin(sqrt(pow(sin(radians(lat - plat) / 2), 2)
        + cos(radians(plat)) * cos(radians(lat)) * pow(sin(radians(lon - plon) / 2), 2))) AS km,
        greatest(epoch(time) - epoch(ptime), 1) / 3600.0 AS hours
    FROM g WHERE plat IS NOT NULL
)
SELECT time, source, event_type, outcome, actor_id, actor_name, credential_id, src_ip,
    target_name, origin,
    printf('%.0f km from %s in %.1f h (%.0f km/h)', km, pip, hours, km / hours) AS why
FROM d WHERE km > 500 AND km / hours > 900
