"""The health report stage: warehouse health records in, one self-contained HTML page out."""
