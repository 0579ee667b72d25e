"""Where new secrets are delivered: one module per sink, registered by name."""

# name -> "module:Class"; imported only when used, so optional SDKs stay optional.
SINKS = {
    "aws_secrets": "keyreaper.sinks.aws_secrets:AwsSecretsManagerSink",
    "file": "keyreaper.sinks.file:FileSink",
    "dotenv": "keyreaper.sinks.dotenv:DotenvSink",
    "command": "keyreaper.sinks.command:CommandSink",
}
