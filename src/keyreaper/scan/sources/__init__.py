"""Where scanned bytes come from: files and folders, git history, archives, standard input;
export formats (Confluence, Jira, HAR) add labels that say which page, issue or request."""
