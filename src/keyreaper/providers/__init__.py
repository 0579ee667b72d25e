"""Systems whose credentials keyreaper can list, probe, rotate and revoke; one module each."""

# name -> "module:Class"; imported only when used, so optional SDKs stay optional.
PROVIDERS = {
    "aws": "keyreaper.providers.aws:AwsIamProvider",
    "okta": "keyreaper.providers.okta:OktaProvider",
    "postgres": "keyreaper.providers.postgres:PostgresProvider",
    "redis": "keyreaper.providers.redis:RedisProvider",
    "ssh": "keyreaper.providers.ssh:SshProvider",
    "command": "keyreaper.providers.command:CommandProvider",
}
