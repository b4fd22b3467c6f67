from crm_host.migrate import run_env

run_env()
