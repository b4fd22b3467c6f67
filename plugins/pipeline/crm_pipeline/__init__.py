"""The pipeline module: deals, activities, appointments, orders, funnel and targets."""
