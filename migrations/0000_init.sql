CREATE TABLE "conversations" (
	"id" serial PRIMARY KEY NOT NULL,
	"platform" text NOT NULL,
	"chat_id" text NOT NULL,
	"thread_id" text DEFAULT '' NOT NULL,
	"user_id" text NOT NULL,
	"user_name" text,
	"current" jsonb,
	"undo_stack" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"redo_stack" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "images" (
	"sha256" text PRIMARY KEY NOT NULL,
	"bytes" bigint NOT NULL,
	"width" integer NOT NULL,
	"height" integer NOT NULL,
	"format" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "message_links" (
	"conversation_id" integer NOT NULL,
	"platform_message_id" text NOT NULL,
	"turn_id" integer NOT NULL,
	CONSTRAINT "message_links_conversation_id_platform_message_id_pk" PRIMARY KEY("conversation_id","platform_message_id")
);
--> statement-breakpoint
CREATE TABLE "rules" (
	"id" serial PRIMARY KEY NOT NULL,
	"conversation_id" integer,
	"platform" text NOT NULL,
	"user_id" text NOT NULL,
	"kind" text NOT NULL,
	"brick" text NOT NULL,
	"before" text,
	"text" text NOT NULL,
	"data" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "turn_images" (
	"turn_id" integer NOT NULL,
	"role" text NOT NULL,
	"position" integer NOT NULL,
	"image_sha" text NOT NULL,
	CONSTRAINT "turn_images_turn_id_role_position_pk" PRIMARY KEY("turn_id","role","position")
);
--> statement-breakpoint
CREATE TABLE "turns" (
	"id" serial PRIMARY KEY NOT NULL,
	"conversation_id" integer NOT NULL,
	"message_id" text,
	"text" text DEFAULT '' NOT NULL,
	"intent" text NOT NULL,
	"instruction" text DEFAULT '' NOT NULL,
	"revises_turn_id" integer,
	"source_image" text,
	"status" text NOT NULL,
	"builder" text,
	"reasoning" text,
	"workflow" jsonb,
	"attempts" jsonb,
	"trace" jsonb,
	"warnings" jsonb,
	"error_code" text,
	"error_message" text,
	"prompt_tokens" integer,
	"completion_tokens" integer,
	"plan_ms" integer,
	"run_ms" integer,
	"notice_pending" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "message_links" ADD CONSTRAINT "message_links_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_links" ADD CONSTRAINT "message_links_turn_id_turns_id_fk" FOREIGN KEY ("turn_id") REFERENCES "turns"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rules" ADD CONSTRAINT "rules_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "turn_images" ADD CONSTRAINT "turn_images_turn_id_turns_id_fk" FOREIGN KEY ("turn_id") REFERENCES "turns"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "turn_images" ADD CONSTRAINT "turn_images_image_sha_images_sha256_fk" FOREIGN KEY ("image_sha") REFERENCES "images"("sha256") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "turns" ADD CONSTRAINT "turns_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "conversations_key" ON "conversations" USING btree ("platform","chat_id","thread_id","user_id");--> statement-breakpoint
CREATE INDEX "conversations_user" ON "conversations" USING btree ("platform","user_id");--> statement-breakpoint
CREATE INDEX "rules_conversation" ON "rules" USING btree ("conversation_id");--> statement-breakpoint
CREATE INDEX "rules_user" ON "rules" USING btree ("platform","user_id");--> statement-breakpoint
CREATE INDEX "turn_images_image" ON "turn_images" USING btree ("image_sha");--> statement-breakpoint
CREATE INDEX "turns_conversation" ON "turns" USING btree ("conversation_id","id");--> statement-breakpoint
CREATE INDEX "turns_status" ON "turns" USING btree ("status");--> statement-breakpoint
CREATE UNIQUE INDEX "turns_message" ON "turns" USING btree ("conversation_id","message_id");