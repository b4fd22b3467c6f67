"""The knowledge module: articles and Q&A, products, competitors, documents, packs."""
