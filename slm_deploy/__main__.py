from slm_deploy.cli import main

main()
