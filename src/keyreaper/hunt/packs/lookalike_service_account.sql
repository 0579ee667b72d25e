-- title: User created with a name like a service account
-- description: A new user whose name is one or two edits away from an existing account name, or that is named like a service account (svc-, -service, bot). Both the BeyondTrust and Cloudflare attackers created such a user for persistence.
-- sources: okta bitbucket confluence jira google_workspace cloudtrail github
-- needs: okta:user.lifecycle.create, confluence:User created, jira:User created, cloudtrail:CreateUser
WITH created AS (
    SELECT *, lower(split_part(coalesce(target_name, ''), '@', 1)) AS new_name FROM events
    WHERE event_type IN ('user.lifecycle.create', 'user.lifecycle.activate', 'CREATE_USER',
                         'CreateUser', 'org.add_member', 'user.create')
       OR lower(event_type) LIKE '%user created%'
), known AS (
    SELECT lower(split_part(actor_name, '@', 1)) AS name, min(time) AS first
    FROM events WHERE actor_name IS NOT NULL GROUP BY 1
), alike AS (
    SELECT c.*, 'one or two edits from existing account ' || k.name AS why
    FROM created c JOIN known k ON k.first < c.time AND c.new_name <> k.name
        AND length(c.new_name) >= 4
        AND (levenshtein(c.new_name, k.name) BETWEEN 1 AND 2
             OR (jaro_winkler_similarity(c.new_name, k.name) >= 0.93))
), named AS (
    SELECT *, 'named like a service account' AS why FROM created
    WHERE regexp_matches(new_name, '(^|[-_.])(svc|service|srv|sa|bot|integration|automation)([-_.]|$)')
)
SELECT time, source, event_type, outcome, actor_id, actor_name, credential_id, src_ip,
    target_name, origin, string_agg(DISTINCT why, '; ') AS why
FROM (SELECT * FROM alike UNION ALL SELECT * FROM named)
GROUP BY ALL
