"""Insurance FAQ: a knowledge pack for the CRM's knowledge module, written as a partner would."""
