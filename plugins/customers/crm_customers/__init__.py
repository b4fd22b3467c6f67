"""crm-customers: customer profiles, contacts, grading and the customer 360° page."""
