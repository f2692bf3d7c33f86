"""Framework adapters. The only place LangChain / LlamaIndex are imported; each is optional."""
