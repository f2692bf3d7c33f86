from guardrails_plugin.cli import main

main()
