"""The service module: complaints, support, after-sales visits, service levels, satisfaction."""
